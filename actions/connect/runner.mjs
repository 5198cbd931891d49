// GitHub Actions runner protocol, with Node built-ins only (an action ships no node_modules):
// inputs arrive as INPUT_<NAME> variables; outputs, exported variables and state for the post
// step are appended to the files GITHUB_OUTPUT, GITHUB_ENV and GITHUB_STATE name.
import { appendFileSync } from "node:fs";
import { randomBytes } from "node:crypto";

export function input(name, { required = false } = {}) {
  const value = (process.env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] ?? "").trim();
  if (required && value === "") throw new Error(`input ${name} is required`);
  return value;
}

// name<<delimiter form: a value can hold any text, newlines included, without ending the entry.
function appendTo(fileVar, name, value) {
  const file = process.env[fileVar];
  if (!file) throw new Error(`${fileVar} is not set: not running under a GitHub Actions runner`);
  const delimiter = `ghadelimiter_${randomBytes(16).toString("hex")}`;
  if (name.includes(delimiter) || String(value).includes(delimiter)) throw new Error("unexpected delimiter collision");
  appendFileSync(file, `${name}<<${delimiter}\n${value}\n${delimiter}\n`);
}

export const setOutput = (name, value) => appendTo("GITHUB_OUTPUT", name, value);
export const exportVariable = (name, value) => {
  appendTo("GITHUB_ENV", name, value);
  process.env[name] = String(value);
};
export const saveState = (name, value) => appendTo("GITHUB_STATE", name, value);
export const getState = (name) => process.env[`STATE_${name}`] ?? "";
/** Never print this value in the job log (the runner replaces it with ***). */
export const mask = (value) => process.stdout.write(`::add-mask::${value}\n`);
export const info = (line) => process.stdout.write(`${line}\n`);
export const fail = (message) => {
  process.stdout.write(`::error::${String(message).replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A")}\n`);
  process.exitCode = 1;
};
