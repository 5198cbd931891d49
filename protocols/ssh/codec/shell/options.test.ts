import { describe, expect, it } from "vitest";
import { parseOptions } from "./options.ts";
import { optionTable } from "./programs.ts";
import { scanSedScript } from "./writes.ts";
import type { ShellWord } from "./types.ts";

const words = (line: string): ShellWord[] => line.split(" ").filter(Boolean).map((value) => ({ value, dynamic: value.startsWith("$"), glob: /[*?]/.test(value) }));
const rm = (line: string) => parseOptions(optionTable("rm"), words(line));
const flags = (line: string) => [...rm(line).flags].sort();

describe("options read as getopt_long reads them", () => {
  it("short clusters, separate options and every rm spelling of recursive + force", () => {
    for (const line of ["-rf x", "-Rf x", "-fr x", "-r -f x", "-R -f x", "--recursive --force x", "--rec --forc x", "--r --f x", "-f x --recursive", "x -rf", "-rfv x"]) {
      expect(flags(line), line).toEqual(expect.arrayContaining(["force", "recursive"]));
    }
    expect(rm("-rf x").operands.map((w) => w.value)).toEqual(["x"]);
  });

  it("`--` ends the options: what follows is an operand, even `-rf`", () => {
    const p = rm("-f -- -r x");
    expect([...p.flags]).toEqual(["force"]);
    expect(p.operands.map((w) => w.value)).toEqual(["-r", "x"]);
  });

  it("long options with `=` values, optional values, and values attached to short options", () => {
    const cp = parseOptions(optionTable("cp"), words("-tDIR a b"));
    expect(cp.values.get("target-directory")?.map((w) => w.value)).toEqual(["DIR"]);
    expect(cp.operands.map((w) => w.value)).toEqual(["a", "b"]);
    const cp2 = parseOptions(optionTable("cp"), words("--target=DIR a"));
    expect(cp2.values.get("target-directory")?.map((w) => w.value)).toEqual(["DIR"]);
    const cp3 = parseOptions(optionTable("cp"), words("-t DIR a"));
    expect(cp3.operands.map((w) => w.value)).toEqual(["a"]);
    expect(flags("--interactive=never x")).toEqual(["interactive"]);
    const sed = parseOptions(optionTable("sed"), words("-i.bak s/a/b/ f"));
    expect(sed.flags.has("in-place")).toBe(true);
    expect(sed.operands.map((w) => w.value)).toEqual(["s/a/b/", "f"]);
  });

  it("an ambiguous abbreviation counts as every candidate; an unknown one is reported", () => {
    const cp = parseOptions(optionTable("cp"), words("--p x y")); // --parents / --preserve
    expect(cp.flags.has("parents")).toBe(true);
    expect(cp.flags.has("preserve")).toBe(true);
    expect(rm("--bogus x").unrecognised).toEqual(["--bogus"]);
  });

  it("an unreadable word in option position could be any option; `*` too, `*.log` cannot start with '-'… but `*` can", () => {
    expect(rm("$X x").anyOption).toBe(true);
    expect(rm("* ").anyOption).toBe(true);
    expect(rm("a.log").anyOption).toBe(false);
    expect(rm("-- $X").anyOption).toBe(false);
  });

  it("wrapper-style programs stop at the first operand (git)", () => {
    const git = parseOptions(optionTable("git"), words("-C /srv pull --rebase"));
    expect(git.values.get("chdir")?.map((w) => w.value)).toEqual(["/srv"]);
    expect(git.operands.map((w) => w.value)).toEqual(["pull", "--rebase"]);
  });

  it("programs without a table: every letter and long word is reported as written", () => {
    const p = parseOptions(optionTable("frobnicate"), words("-ab --long=1 x"));
    expect(p.unrecognised).toEqual(["-a", "-b", "--long=1"]);
    expect(p.operands.map((w) => w.value)).toEqual(["x"]);
  });
});

describe("sed scripts", () => {
  it("finds `e` commands and `s///e`, and files written by `w` and `s///w`", () => {
    expect(scanSedScript("1e rm -rf /x").exec).toBe(true);
    expect(scanSedScript("s/a/b/e").exec).toBe(true);
    expect(scanSedScript("b end;e id").exec).toBe(true);
    expect(scanSedScript("s/e/w/g").exec).toBe(false);
    expect(scanSedScript("/e/d").exec).toBe(false);
    expect(scanSedScript("w /root/.bashrc").writes).toEqual(["/root/.bashrc"]);
    expect(scanSedScript("s/a/b/w out.txt").writes).toEqual(["out.txt"]);
    expect(scanSedScript("$a text with e and w").exec).toBe(false);
    expect(scanSedScript("1,/x/{p;d}").exec).toBe(false);
    expect(scanSedScript("1v").exec).toBe(true); // a command the gateway does not know: assume the worst
  });
});
