import { describe, expect, it } from "vitest";
import { formKind, formMethodField, refuseMethodOverride } from "./method-override.ts";
import { HttpCodecError } from "./errors.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const h = (rawName: string, value: string) => ({ name: rawName.toLowerCase(), rawName, value });

describe("method overrides", () => {
  it.each([
    [[h("X-HTTP-Method-Override", "DELETE")], null],
    [[h("x-http-method", "delete")], null],
    [[h("X-Method-Override", "PUT")], null],
    [[h("X_HTTP_METHOD_OVERRIDE", "DELETE")], null],
    [[h("X-Original-URL", "/admin")], null],
    [[h("X-Rewrite-Url", "/admin")], null],
    [[h("X_Original_URL", "/admin")], null],
    [[], "_method=DELETE"],
    [[], "a=1&_METHOD=delete"],
    [[], "%5Fmethod=DELETE"],
    [[], ".method=DELETE"],
  ])("refused: headers %j query %s", (headers, query) => {
    expect(() => refuseMethodOverride(headers, query)).toThrow(HttpCodecError);
  });

  it("other headers and parameters pass", () => {
    expect(() => refuseMethodOverride([h("X-Method", "x"), h("Accept", "*/*")], "method=DELETE&methods=1&my_method=x")).not.toThrow();
  });

  it.each([
    ["_method=DELETE", "_method"],
    ["a=1&_method=DELETE", "_method"],
    ["a=1;_method=DELETE", "_method"], // Rack 2 splits on ';' too
    ["_%6dethod=DELETE", "_%6dethod"],
    ["+_method=DELETE", "+_method"], // PHP drops leading blanks
    [".method=DELETE", ".method"], // PHP files '.' as '_'
    ["%5BMETHOD=DELETE", "%5BMETHOD"],
    ["_method[x]=DELETE", "_method[x]"],
  ])("urlencoded %s → %s", (body, field) => {
    expect(formMethodField("urlencoded", enc(body))).toBe(field);
  });

  it("urlencoded forms without the field", () => {
    expect(formMethodField("urlencoded", enc("title=a&method=b&methodology=c&x_method=d"))).toBeNull();
    expect(formMethodField("urlencoded", enc(""))).toBeNull();
  });

  it.each([
    '--b\r\nContent-Disposition: form-data; name="_method"\r\n\r\nDELETE\r\n--b--\r\n',
    "--b\r\nContent-Disposition: form-data; name=_method\r\n\r\nDELETE\r\n--b--\r\n",
    "--b\r\ncontent-disposition: form-data; NAME = \"_METHOD\"\r\n\r\nDELETE\r\n--b--\r\n",
    "--b\r\nContent-Disposition: form-data; name*=utf-8''_method\r\n\r\nDELETE\r\n--b--\r\n",
  ])("multipart %j", (body) => {
    expect(formMethodField("multipart", enc(body))).not.toBeNull();
  });

  it("multipart without the field", () => {
    expect(formMethodField("multipart", enc('--b\r\nContent-Disposition: form-data; name="methodology"\r\n\r\n_method\r\n--b--\r\n'))).toBeNull();
  });

  it("form content types", () => {
    expect(formKind([h("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")])).toBe("urlencoded");
    expect(formKind([h("Content-Type", "multipart/form-data; boundary=b")])).toBe("multipart");
    expect(formKind([h("Content-Type", "application/json")])).toBeNull();
  });
});
