import { describe, expect, it } from "vitest";
import { CH_CLOSE, CH_ERROR, CH_RESIZE, CH_STDERR, CH_STDIN, CH_STDOUT, ChannelProtocolError, ChannelReader, channelMessage, restrictOffer, toAsciicast } from "./channel.ts";

const msg = (ch: number, s: string | number[]) => channelMessage(ch, typeof s === "string" ? s : new Uint8Array(s));

describe("v5.channel.k8s.io reader", () => {
  it("reads a whole exec: resize, stdin, close, stdout/stderr, exit status", () => {
    const r = new ChannelReader("v5.channel.k8s.io");
    r.fromClient(msg(CH_RESIZE, '{"Width":111,"Height":33}'));
    r.fromClient(msg(CH_STDIN, "ls -l\r"));
    r.fromServer(msg(CH_STDOUT, "total 0\r\n"));
    r.fromServer(msg(CH_STDERR, "warning\n"));
    r.fromClient(msg(CH_CLOSE, [CH_STDIN]));
    r.fromServer(msg(CH_ERROR, JSON.stringify({ metadata: {}, status: "Failure", message: "command terminated with non-zero exit code: error executing command [sh], exit code 7", reason: "NonZeroExitCode", details: { causes: [{ reason: "ExitCode", message: "7" }] } })));
    expect(r.events).toEqual([
      { type: "term.resize", cols: 111, rows: 33 },
      { type: "term.input", data: "ls -l\r" },
      { type: "term.output", data: "total 0\r\n", stream: "stdout" },
      { type: "term.output", data: "warning\n", stream: "stderr" },
      { type: "stream.close", channel: CH_STDIN, from: "client" },
      { type: "exec.exit", code: 7, status: "Failure", reason: "NonZeroExitCode", message: expect.stringContaining("exit code 7") },
    ]);
    expect(r.exitCode).toBe(7);
  });

  it("success status is exit code 0; a failure without an exit code is null (exec could not start)", () => {
    const ok = new ChannelReader("v5.channel.k8s.io");
    ok.fromServer(msg(CH_ERROR, '{"metadata":{},"status":"Success"}'));
    expect(ok.exitCode).toBe(0);
    const failed = new ChannelReader("v4.channel.k8s.io");
    failed.fromServer(msg(CH_ERROR, '{"metadata":{},"status":"Failure","message":"executable file not found","reason":"InternalError"}'));
    expect(failed.exitCode).toBeNull();
    expect(failed.events[0]).toMatchObject({ type: "exec.exit", code: null, reason: "InternalError" });
  });

  it("a UTF-8 character split across messages is recorded once, whole", () => {
    const r = new ChannelReader("v5.channel.k8s.io");
    const euro = [...new TextEncoder().encode("€")];
    r.fromServer(msg(CH_STDOUT, euro.slice(0, 1)));
    r.fromServer(msg(CH_STDOUT, euro.slice(1)));
    expect(r.events.map((e) => (e.type === "term.output" ? e.data : "")).join("")).toBe("€");
  });

  it("what it cannot read is an error: unknown channels, resize not JSON or not a size, close in v4, bad close", () => {
    expect(() => new ChannelReader("v5.channel.k8s.io").fromClient(msg(7, "x"))).toThrow(ChannelProtocolError);
    expect(() => new ChannelReader("v5.channel.k8s.io").fromClient(msg(CH_STDOUT, "x"))).toThrow(ChannelProtocolError);
    expect(() => new ChannelReader("v5.channel.k8s.io").fromClient(msg(CH_RESIZE, "80x24"))).toThrow(ChannelProtocolError);
    expect(() => new ChannelReader("v5.channel.k8s.io").fromClient(msg(CH_RESIZE, '{"Width":-1,"Height":2}'))).toThrow(ChannelProtocolError);
    expect(() => new ChannelReader("v5.channel.k8s.io").fromClient(msg(CH_RESIZE, '{"Width":"80","Height":24}'))).toThrow(ChannelProtocolError);
    expect(() => new ChannelReader("v4.channel.k8s.io").fromClient(msg(CH_CLOSE, [0]))).toThrow(ChannelProtocolError);
    expect(() => new ChannelReader("v5.channel.k8s.io").fromClient(msg(CH_CLOSE, [0, 1]))).toThrow(ChannelProtocolError);
    expect(() => new ChannelReader("v5.channel.k8s.io").fromServer(msg(CH_ERROR, "not a status"))).toThrow(ChannelProtocolError);
  });

  it("the client's subprotocol offer is cut down to what the reader understands", () => {
    expect(restrictOffer("v5.channel.k8s.io, v4.channel.k8s.io, v3.channel.k8s.io, v2.channel.k8s.io, channel.k8s.io")).toEqual(["v5.channel.k8s.io", "v4.channel.k8s.io"]);
    expect(restrictOffer("base64.channel.k8s.io, channel.k8s.io")).toEqual([]);
    expect(restrictOffer(null)).toEqual([]);
  });

  it("events become an asciicast v2 document (header, then o/i/r with seconds)", () => {
    const cast = toAsciicast(
      [
        { at: 0, event: { type: "term.resize", cols: 100, rows: 30 } },
        { at: 1500, event: { type: "term.input", data: "id\r" } },
        { at: 1750, event: { type: "term.output", data: "uid=0\r\n", stream: "stdout" } },
      ],
      { cols: 80, rows: 24, timestamp: 1_700_000_000_000, title: "exec apps/shell" },
    );
    const lines = cast.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ version: 2, width: 80, height: 24, timestamp: 1_700_000_000, title: "exec apps/shell" });
    expect(lines.slice(1)).toEqual([[0, "r", "100x30"], [1.5, "i", "id\r"], [1.75, "o", "uid=0\r\n"]]);
  });
});

describe("channel reader on JSON of the wrong shape (codec fuzzing findings: TypeError instead of ChannelProtocolError)", () => {
  it("a resize that is JSON but not an object is refused", () => {
    for (const body of ["null", "7", '"x"', "[]", "true"]) {
      expect(() => new ChannelReader("v5.channel.k8s.io").fromClient(msg(CH_RESIZE, body)), body).toThrow(ChannelProtocolError);
    }
  });

  it("an error channel that is JSON but not a Status object, or whose causes are not a list, is refused", () => {
    for (const body of ["null", "1", "[]", '{"details":{"causes":1}}', '{"details":{"causes":{"reason":"ExitCode"}}}', '{"status":"Success","details":{"causes":"x"}}']) {
      expect(() => new ChannelReader("v5.channel.k8s.io").fromServer(msg(CH_ERROR, body)), body).toThrow(ChannelProtocolError);
    }
  });

  it("causes that are null or not objects are no exit code, as Go reads them (zero-value causes)", () => {
    const r = new ChannelReader("v5.channel.k8s.io");
    r.fromServer(msg(CH_ERROR, '{"status":"Failure","details":{"causes":[null,1,{"reason":"ExitCode","message":"4"}]}}'));
    expect(r.exitCode).toBe(4);
    const none = new ChannelReader("v5.channel.k8s.io");
    none.fromServer(msg(CH_ERROR, '{"status":"Failure","details":null}'));
    expect(none.exitCode).toBeNull();
  });
});
