import { describe, expect, it } from "vitest";
import { bodyMethodField, overrideBodyKind, refuseMethodOverride } from "./method-override.ts";
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
    [[], "a=1;_method=DELETE"], // Rack 2 and PHP (arg_separator.input) split on ';' too
    [[], "a;+_method=DELETE"],
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
    expect(bodyMethodField("urlencoded", enc(body))).toBe(field);
  });

  it("urlencoded forms without the field", () => {
    expect(bodyMethodField("urlencoded", enc("title=a&method=b&methodology=c&x_method=d"))).toBeNull();
    expect(bodyMethodField("urlencoded", enc(""))).toBeNull();
  });

  it.each([
    '--b\r\nContent-Disposition: form-data; name="_method"\r\n\r\nDELETE\r\n--b--\r\n',
    "--b\r\nContent-Disposition: form-data; name=_method\r\n\r\nDELETE\r\n--b--\r\n",
    "--b\r\ncontent-disposition: form-data; NAME = \"_METHOD\"\r\n\r\nDELETE\r\n--b--\r\n",
    "--b\r\nContent-Disposition: form-data; name*=utf-8''_method\r\n\r\nDELETE\r\n--b--\r\n",
  ])("multipart %j", (body) => {
    expect(bodyMethodField("multipart", enc(body))).not.toBeNull();
  });

  it("multipart without the field", () => {
    expect(bodyMethodField("multipart", enc('--b\r\nContent-Disposition: form-data; name="methodology"\r\n\r\n_method\r\n--b--\r\n'))).toBeNull();
  });

  it("body kinds: forms for any method, JSON (as Laravel's isJson reads the header) for a POST only", () => {
    expect(overrideBodyKind("POST", [h("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")])).toBe("urlencoded");
    expect(overrideBodyKind("PUT", [h("Content-Type", "multipart/form-data; boundary=b")])).toBe("multipart");
    expect(overrideBodyKind("POST", [h("Content-Type", "application/json")])).toBe("json");
    expect(overrideBodyKind("POST", [h("Content-Type", "application/vnd.api+json")])).toBe("json");
    // Laravel looks for `/json` anywhere in the value, parameters included.
    expect(overrideBodyKind("POST", [h("Content-Type", "text/plain; x=/json")])).toBe("json");
    expect(overrideBodyKind("PUT", [h("Content-Type", "application/json")])).toBeNull();
    expect(overrideBodyKind("POST", [h("Content-Type", "text/plain")])).toBeNull();
  });

  it.each([
    ['{"_method":"DELETE"}', "_method"],
    ['{"title":"x","_METHOD":"delete"}', "_METHOD"],
    ['{"\\u005fmethod":"DELETE"}', "_method"], // decoded by JSON.parse
    ['{" _method":"DELETE"}', " _method"],
    // A BOM (PHP's json_decode fails on it, this decoder drops it): refused all the same.
    ['\ufeff{"_method":"DELETE"}', "_method"],
    // Not JSON this parser reads (a trailing comma): any spelling of the field anywhere.
    ['{"a":1,"\\u005Fmethod":"DELETE",}', '"_method"'],
  ])("JSON %s → %s", (body, field) => {
    expect(bodyMethodField("json", enc(body))).toBe(field);
  });

  it("JSON without a top-level override key", () => {
    expect(bodyMethodField("json", enc('{"title":"_method","nested":{"_method":"DELETE"},"method":"x"}'))).toBeNull();
    expect(bodyMethodField("json", enc('[{"_method":"DELETE"}]'))).toBeNull();
    expect(bodyMethodField("json", enc('"_method"'))).toBeNull();
    expect(bodyMethodField("json", enc("{}"))).toBeNull();
  });
});
