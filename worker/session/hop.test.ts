/**
 * Flow control of one session hop inside workerd, on a real WebSocketPair: DATA framing, the send
 * window (queue while the peer has given no credit, flush in order when it does), credit returned
 * in quarter-window steps, and a peer that ignores our window refused.
 */
import { describe, expect, it, vi } from "vitest";
import { Hop } from "./hop.ts";
import { decodeFrame, FrameType, INITIAL_WINDOW, MAX_DATA_PAYLOAD, type Frame } from "../../parsers/tunnel/frames.ts";

function pair(): { hop: Hop; frames: Frame[]; settle: () => Promise<void> } {
  const p = new WebSocketPair();
  const [peer, ours] = [p[0], p[1]];
  (peer as unknown as { binaryType: string }).binaryType = "arraybuffer";
  const frames: Frame[] = [];
  peer.addEventListener("message", (e) => void frames.push(decodeFrame(e.data as ArrayBuffer)));
  peer.accept();
  ours.accept();
  // Messages cross the pair asynchronously.
  const settle = () => new Promise<void>((r) => setTimeout(r, 20));
  return { hop: new Hop(ours, "client"), frames, settle };
}

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);
const dataLengths = (frames: Frame[]) => frames.filter((f) => f.type === FrameType.Data).map((f) => (f.type === FrameType.Data ? f.payload.length : 0));

describe("Hop", () => {
  it("sends parts as one DATA frame, split at the maximal payload, and spends the send window", async () => {
    const { hop, frames } = pair();
    hop.credited(MAX_DATA_PAYLOAD); // room for everything below without overdrawing
    hop.sendParts([new Uint8Array([1, 2]), new Uint8Array([3])]);
    hop.sendParts([bytes(MAX_DATA_PAYLOAD + 10)]);
    hop.sendParts([]);
    await vi.waitFor(() => expect(dataLengths(frames)).toEqual([3, MAX_DATA_PAYLOAD, 10]));
    expect(frames[0]!.type === FrameType.Data && [...frames[0]!.payload]).toEqual([1, 2, 3]);
    expect(hop.bytesSent).toBe(3 + MAX_DATA_PAYLOAD + 10);
    expect(hop.sendWindow.credit).toBe(INITIAL_WINDOW + MAX_DATA_PAYLOAD - hop.bytesSent);
    expect(hop.backlogged).toBe(false);
  });

  it("queues DATA once the peer's window is spent, and flushes it in order when credit comes", async () => {
    const { hop, frames, settle } = pair();
    let drained = 0;
    hop.onDrained = () => void drained++;
    hop.sendData(bytes(INITIAL_WINDOW, 1)); // two frames that spend the whole window exactly
    hop.sendData(bytes(100, 2));
    hop.sendData(bytes(50, 3));
    await settle();
    const full = [MAX_DATA_PAYLOAD, INITIAL_WINDOW - MAX_DATA_PAYLOAD];
    expect(dataLengths(frames)).toEqual(full);
    expect(hop.sendWindow.credit).toBe(0);
    expect(hop.backlogged).toBe(true);
    hop.credited(10); // some credit lets the next whole frame go (a frame may overdraw the window)
    await vi.waitFor(() => expect(dataLengths(frames)).toEqual([...full, 100]));
    expect(hop.backlogged).toBe(true);
    expect(drained).toBe(0);
    hop.credited(1000);
    await vi.waitFor(() => expect(dataLengths(frames)).toEqual([...full, 100, 50]));
    expect(frames.at(-1)!.type === FrameType.Data && frames.at(-1)!.payload[0]).toBe(3);
    expect(hop.backlogged).toBe(false);
    expect(drained).toBe(1);
  });

  it("returns credit in quarter-window steps for bytes consumed", async () => {
    const { hop, frames, settle } = pair();
    const quarter = INITIAL_WINDOW / 4;
    hop.received(quarter);
    hop.grantCredit(quarter - 1);
    await settle();
    expect(frames).toEqual([]);
    hop.grantCredit(1);
    await vi.waitFor(() => expect(frames).toEqual([{ type: FrameType.Credit, bytes: quarter }]));
  });

  it("refuses a peer that sends beyond its window (and the one frame of slack)", () => {
    const { hop } = pair();
    hop.received(INITIAL_WINDOW);
    expect(() => hop.received(1024 * 1024 + 1)).toThrow(/exceeded its flow-control window/);
  });

  it("builds the next DATA frame that fits in a lent buffer, once, and never in one a part lives in", async () => {
    const { hop, frames } = pair();
    const lent = new Uint8Array(8).fill(0xaa);
    hop.lendFrame(lent);
    hop.sendParts([bytes(8, 1)]); // does not fit (9 bytes with the type byte): a fresh frame
    expect([...lent]).toEqual(new Array(8).fill(0xaa));
    hop.sendParts([new Uint8Array([1, 2]), new Uint8Array([3, 4, 5])]);
    expect([...lent.subarray(0, 6)]).toEqual([FrameType.Data, 1, 2, 3, 4, 5]);
    lent.fill(0xbb, 6);
    hop.sendParts([new Uint8Array([6])]); // the loan was used: a fresh frame again
    expect([...lent.subarray(6)]).toEqual([0xbb, 0xbb]);
    const other = new Uint8Array(16).fill(0xcc);
    hop.lendFrame(other);
    hop.sendParts([other.subarray(1, 4)]); // a part inside the lent buffer: not built there
    expect([...other]).toEqual(new Array(16).fill(0xcc));
    hop.lendFrame(null);
    await vi.waitFor(() => expect(dataLengths(frames)).toEqual([8, 5, 1, 3]));
    expect(frames[1]!.type === FrameType.Data && [...frames[1]!.payload]).toEqual([1, 2, 3, 4, 5]);
    expect(frames[3]!.type === FrameType.Data && [...frames[3]!.payload]).toEqual([0xcc, 0xcc, 0xcc]);
    expect(hop.bytesSent).toBe(17);
  });

  it("sends nothing once closed, and closes once", async () => {
    const { hop, frames, settle } = pair();
    hop.close(1000, "done");
    hop.close(1000, "again");
    hop.sendData(bytes(5));
    hop.sendControl({ t: "close", reason: "x" });
    await settle();
    expect(hop.isOpen).toBe(false);
    expect(frames).toEqual([]);
  });
});
