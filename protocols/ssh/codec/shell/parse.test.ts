import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parseCommandLine } from "./parse.ts";
import { SHELL_LIMITS } from "./types.ts";

/** "name arg arg" for each resolved command, "?reason" for unknown ones, "> target" for redirects. */
function summary(line: string): string[] {
  return parseCommandLine(line).commands.map((c) => {
    if (c.kind === "unknown") return `?${c.reason}`;
    if (c.kind === "redirect") return `${c.name} ${c.args[0]!.value}`;
    return [c.name, ...c.args.map((a) => a.value)].join(" ");
  });
}

const names = (line: string) => parseCommandLine(line).commands.map((c) => (c.kind === "unknown" ? "?" : c.name));

describe("shell command-line parser", () => {
  it("splits lists, pipelines and subshells into their commands", () => {
    expect(summary("rm -rf / ;")).toEqual(["rm -rf /"]);
    expect(summary("a && b || c | d |& e & f; (g; h) { i; }")).toEqual(["a", "b", "c", "d", "e", "f", "g", "h", "i"]);
    expect(names("if true; then rm -rf /; elif x; then y; else z; fi")).toEqual(["true", "rm", "x", "y", "z"]);
    expect(names("while read l; do echo $l; done < f; until false; do :; done")).toEqual(["read", "echo", "false", ":"]);
    expect(names("case $x in a) reboot;; b|c) ls;& *) pwd;;& esac; after")).toEqual(["reboot", "ls", "pwd", "after"]);
    expect(names("for f in $(ls /); do cat $f; done")).toEqual(["ls", "cat"]);
    expect(names("f() { shutdown now; }; function g { halt; }; f")).toEqual(["shutdown", "halt", "f"]);
    expect(names("! grep -q x f")).toEqual(["grep"]);
  });

  it("finds commands inside substitutions, backquotes and process substitutions", () => {
    expect(summary("$(rm -rf /)")[0]).toBe("rm -rf /");
    expect(summary("$(rm -rf /)")[1]).toMatch(/^\?the command name/);
    expect(summary("`reboot`")[0]).toBe("reboot");
    expect(summary('echo "$(id -u)" `whoami`')).toEqual(["id -u", "whoami", "echo $(…) `…`"]);
    expect(names("diff <(ls a) >(tee b)")).toEqual(["ls", "tee", "diff"]);
    expect(names("echo $(echo $(reboot))")).toEqual(["reboot", "echo", "echo"]);
    expect(names("a=(1 $(reboot) 3)")).toEqual(["reboot"]);
    // `-eq` evaluates its operands as arithmetic (a[$(…)] in a value runs commands): unknown.
    expect(names("[[ $(id -u) -eq 0 ]] && reboot")).toEqual(["id", "?", "reboot"]);
  });

  it("follows sh -c / bash -c strings, eval and exec", () => {
    expect(summary(`sh -c "bash -c 'rm -rf /'"`)).toEqual([`sh -c bash -c 'rm -rf /'`, "bash -c rm -rf /", "rm -rf /"]);
    expect(parseCommandLine(`sh -c "bash -c 'rm -rf /'"`).commands[2]!.via).toEqual(["sh -c", "bash -c"]);
    expect(names("bash -lc 'reboot'")).toEqual(["bash", "reboot"]);
    expect(names('eval "rm -rf /"')).toEqual(["eval", "rm"]);
    expect(names("eval $X")).toEqual(["eval", "?"]);
    expect(names("exec rm -rf /")).toEqual(["exec", "rm"]);
    expect(names("bash")).toEqual(["bash", "?"]);
    expect(names("sh -s < script")).toEqual(["sh", "?"]);
    expect(names("bash script.sh")).toEqual(["bash"]);
  });

  it("sees through wrappers", () => {
    expect(summary("env X=1 rm -rf /")).toEqual(["env X=1 rm -rf /", "rm -rf /"]);
    expect(names("sudo rm x")).toEqual(["sudo", "rm"]);
    expect(names("sudo -u root -g wheel -- rm x")).toEqual(["sudo", "rm"]);
    expect(names("sudo -s reboot")).toEqual(["sudo", "reboot"]);
    expect(names("ls | xargs rm")).toEqual(["ls", "xargs", "rm"]);
    expect(parseCommandLine("ls | xargs rm").commands[2]!.args[0]!.dynamic).toBe(true);
    expect(names("xargs -0 -n 1 rm -f")).toEqual(["xargs", "rm"]);
    expect(summary("find / -delete")).toEqual(["find / -delete", "rm -r -f /"]);
    expect(names("find . -name x -exec rm {} \\; -o -execdir shred {} +")).toEqual(["find", "rm", "rm", "shred", "rm"]); // each rm/shred run by -exec is also `rm -r -f .` (the tree it walks)
    expect(names("busybox rm -rf /")).toEqual(["busybox", "rm"]);
    expect(names("nohup nice -n 5 timeout 10 stdbuf -oL ionice -c3 chrt -f 1 taskset 1 setsid rm x")).toEqual([
      "nohup",
      "nice",
      "timeout",
      "stdbuf",
      "ionice",
      "chrt",
      "taskset",
      "setsid",
      "rm",
    ]);
    expect(names("command rm x; command -v rm; builtin echo")).toEqual(["command", "rm", "command", "builtin", "echo"]);
    expect(names("su -c 'reboot' root")).toEqual(["su", "reboot"]);
    expect(names("env -S 'rm -rf /'")).toEqual(["env", "rm"]);
    expect(names("watch -n 1 reboot")).toEqual(["watch", "reboot"]);
    expect(names("flock /tmp/l -c 'reboot'")).toEqual(["flock", "reboot"]);
    expect(names("sudo --weird-option rm")).toEqual(["sudo", "?"]);
    expect(names("time -p rm x")).toEqual(["rm"]);
  });

  it("resolves quoting, escapes and ANSI-C strings to the real program name", () => {
    for (const line of ["/bin/rm -rf /", "\\rm -rf /", "r''m -rf /", 'r""m -rf /', "$'\\x72m' -rf /", "$'\\162\\155' -rf /", "$'\\u0072m' -rf /", '"rm" -rf /']) {
      expect(summary(line), line).toEqual(["rm -rf /"]);
    }
    expect(summary("printf '%s' 'a b' \"c $'d'\" e\\ f")).toEqual(["printf %s a b c $'d' e f"]);
    expect(summary("echo $'a\\tb\\n' $'\\cA'")).toEqual(["echo a\tb\n \x01"]);
  });

  it("expands braces like bash, including into the command name", () => {
    expect(summary("{rm,-rf,/}")).toEqual(["rm -rf /"]);
    expect(summary("r{m,x} a")).toEqual(["rm rx a"]);
    expect(summary("echo {1..3} {a..c} x{,y}")).toEqual(["echo 1 2 3 a b c x xy"]);
    expect(summary("echo '{a,b}' {x} {}")).toEqual(["echo {a,b} {x} {}"]);
    expect(summary("echo {a,{b,c}}")).toEqual(["echo a b c"]);
    expect(names("echo {1..100}{1..100}")).toEqual(["?"]);
  });

  it("marks variables, tildes and globs instead of guessing their values", () => {
    const [cmd] = parseCommandLine("rm -rf $DIR ~/x /e* \"$HOME\" '$LIT'").commands;
    expect(cmd!.args.map((a) => [a.value, a.dynamic, a.glob])).toEqual([
      ["-rf", false, false],
      ["$DIR", true, false],
      ["~/x", true, false],
      ["/e*", false, true],
      ["$HOME", true, false],
      ["$LIT", false, false],
    ]);
    expect(summary("$CMD -rf /")[0]).toMatch(/^\?the command name "\$CMD"/);
    expect(summary("/bin/r* -rf /")[0]).toMatch(/^\?the command name .* is a file name pattern/);
    expect(summary("echo ${x:-$(reboot)}")[0]).toMatch(/^\?command substitution inside a parameter expansion/);
    expect(summary("echo $(( $(reboot) + 1 ))")[0]).toMatch(/^\?substitution inside an arithmetic/);
  });

  it("treats dangerous assignments as unknown", () => {
    expect(summary("PATH=/tmp:$PATH ls")[0]).toMatch(/^\?assignment to PATH/);
    expect(summary("LD_PRELOAD=/tmp/x.so ls")[0]).toMatch(/^\?assignment to LD_PRELOAD/);
    expect(names("export PATH=/tmp; ls")).toEqual(["export", "?", "ls"]);
    expect(names("env PATH=/tmp ls")).toEqual(["env", "?"]);
    expect(names("X=1 Y=2 ls")).toEqual(["ls"]);
    expect(names("X=1")).toEqual([]);
  });

  it("handles heredocs, comments, continuations and redirections", () => {
    expect(names("cat <<EOF\n$(reboot)\nEOF\necho ok")).toEqual(["cat", "reboot", "echo"]);
    expect(names("cat <<'EOF'\n$(reboot)\nEOF\necho ok")).toEqual(["cat", "echo"]);
    expect(names("cat <<-\"E\"\n\t`reboot`\n\tE\nls")).toEqual(["cat", "ls"]);
    expect(names("cat <<A <<B\na\nA\n$(reboot)\nB\n")).toEqual(["cat", "reboot"]);
    expect(summary("echo hi # ; rm -rf /")).toEqual(["echo hi"]);
    expect(summary("echo a#b")).toEqual(["echo a#b"]);
    expect(summary("rm \\\n -rf \\\n /")).toEqual(["rm -rf /"]);
    expect(summary("echo x > /etc/passwd")).toEqual(["> /etc/passwd", "echo x"]);
    expect(summary("ls 2>&1 >>/var/log/x &>/dev/null <in 3<>rw >|clobber")).toEqual([">> /var/log/x", "> /dev/null", "> rw", "> clobber", "ls"]);
    expect(summary("cat <<< $(reboot)")).toEqual(["reboot", "cat"]);
    expect(summary("> /etc/shadow")).toEqual(["> /etc/shadow"]);
  });

  it("reports syntax it cannot analyse as unknown (never as nothing)", () => {
    for (const line of ["echo 'unterminated", 'echo "open', "echo $(ls", "echo `ls", "( ls", "ls )", "case x in a) ls", "if ; ;; fi", "echo ${x", "cat <", "a ( b"]) {
      const parsed = parseCommandLine(line);
      expect(parsed.hasUnknown, line).toBe(true);
    }
    expect(parseCommandLine("x".repeat(SHELL_LIMITS.maxLength + 1)).commands[0]!.kind).toBe("unknown");
    const deep = `${"sh -c '".repeat(1)}${"$(".repeat(40)}ls${")".repeat(40)}'`;
    expect(parseCommandLine(deep).hasUnknown).toBe(true);
  });

  it("bounds the number of commands it reports", () => {
    const parsed = parseCommandLine("true;".repeat(SHELL_LIMITS.maxCommands + 10));
    expect(parsed.commands.length).toBe(SHELL_LIMITS.maxCommands + 1);
    expect(parsed.commands.at(-1)!.kind).toBe("unknown");
  });

  it("never throws and always terminates on arbitrary input", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(..."ab $`'\"\\(){}[]<>|&;#\n\t*?~=-x0{},.!@+"), maxLength: 60 }), (line) => {
        const parsed = parseCommandLine(line);
        expect(Array.isArray(parsed.commands)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("never lets an `rm` hidden in a line go unreported or unknown-free", () => {
    // Wherever `rm` appears as a command, the parser either reports it or reports something unknown.
    const wrappers = ["", "sudo ", "env A=1 ", "nice ", "exec ", "command ", "busybox ", "timeout 5 ", "nohup "];
    const holders = (c: string) => [c, `$(${c})`, `\`${c}\``, `sh -c '${c}'`, `bash -c "${c}"`, `eval '${c}'`, `(${c})`, `{ ${c}; }`, `true && ${c}`, `x | ${c}`, `echo <(${c})`];
    for (const w of wrappers) {
      for (const line of holders(`${w}rm -rf /`)) {
        const parsed = parseCommandLine(line);
        const found = parsed.commands.some((c) => c.kind === "command" && c.name === "rm" && c.args.some((a) => a.value === "/"));
        expect(found || parsed.hasUnknown, line).toBe(true);
        expect(found, line).toBe(true);
      }
    }
  });
});
