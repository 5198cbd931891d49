/**
 * SSH engine. The client terminates SSH locally and sends structured frames (protocols/ssh/codec/frames.ts);
 * the connector holds the real SSH session to the host. Every request is checked here before the
 * connector sees it:
 *
 *   client ──ssh.exec/shell/subsystem──▶ policy (shell parser + rules) ──▶ connector
 *   client ──DATA (stdin / sftp packets)──▶ [SFTP: decode → per-operation policy] ──▶ connector
 *   connector ──DATA (stdout/stderr)──▶ masking (streaming) → record (term.output) ──▶ client
 *
 *   client ──ssh.forward (-L/-W/-R)──▶ policy on the canonical target ──▶ connector (ssh.direct / ssh.listen)
 *   connector ──ssh.incoming (remote listener, agent, X11)──▶ ForwardGate (granted earlier?) ──▶ client
 *
 * Refusals never reach the host: the client gets a stderr message naming the rule and exit
 * status 126 on that channel; refused forwarding requests are answered here. Nothing unchecked
 * is forwarded: unknown channels, malformed messages and unsupported subsystems end the session
 * or are refused.
 */
import { FilterChain } from "../../../worker/chain/chain.ts";
import { approvalHoldFilter } from "../../../worker/chain/filters/approval-hold.ts";
import { requestMaskingFilter } from "../../../worker/chain/filters/request-masking.ts";
import { decidedFilter } from "../../../worker/chain/filters/decided.ts";
import { gatedSends, recordingFilter, type Trail } from "../../../worker/chain/filters/recording.ts";
import { resultMaskingFilter } from "../../../worker/chain/filters/result-masking.ts";
import { sshRequest } from "../policy/describe.ts";
import type { ControlMessage } from "../../../parsers/tunnel/frames.ts";
import {
  EXIT_GATEWAY_ERROR,
  EXIT_REFUSED,
  MAX_SSH_CHANNELS,
  STREAM_EVENT,
  STREAM_STDERR,
  STREAM_STDOUT,
  SshFrameError,
  decodeSshData,
  encodeChannelEvent,
  encodeSshData,
  forwardedEnv,
  parseChannelEvent,
  parseSshClientMessage,
  type SshClientMessage,
} from "../codec/frames.ts";
import { parseCommandLine } from "../codec/shell/parse.ts";
import { withoutTerminal } from "../codec/shell/no-terminal.ts";
import type { SftpOperation, SshRequest } from "../policy/ssh.ts";
import type { Decision } from "../../../parsers/policy/types.ts";
import { SftpProtocolError } from "../codec/sftp/packets.ts";
import type { Engine, EngineHost } from "../../../worker/engines/engine.ts";
import type { DecisionEvent } from "../../../worker/session/session-audit.ts";
import { SftpGate } from "./sftp-gate.ts";
import { commandFlags } from "./command-flags.ts";
import { ForwardGate } from "./forward-gate.ts";
import { decideShellWithoutTerminal } from "./shell-stdin.ts";
import {
  INCOMING_CHANNEL_BASE,
  forwardTarget,
  parseIncomingOpen,
  parseListenResult,
  type ForwardRequest,
  type IncomingOpen,
} from "../codec/forward.ts";
import type { SshTextMasker } from "./text-mask.ts";
import { ChannelOutput } from "./channel-output.ts";
import { transferMode } from "./transfer-mode.ts";
import { RATE_LIMIT_RULE } from "../../../worker/limits/request-gate.ts";

const CONNECT_TIMEOUT_MS = 30_000;
/** Exec output recorded per channel; beyond it the recording notes the truncation (bulk transfers such as rsync). */
const MAX_RECORDED_EXEC_OUTPUT = 256 * 1024;
/** Largest DATA payload the engine produces (well under the tunnel's frame limit, even after masking). */
const OUT_CHUNK = 256 * 1024;

export interface SshEngineOptions {
  /** Builds the text masker; undefined = no masking rule applies. May throw (masking unavailable → fail closed). */
  textMask?: () => SshTextMasker | undefined;
}

type ChannelKind = "exec" | "shell" | "sftp" | "forward";

/** A forwarded connection: opaque bytes (its protocol is not decoded), recorded as open/close with byte counts. */
interface ForwardState {
  kind: string;
  target: string;
  up: number;
  down: number;
}

interface Channel {
  kind: ChannelKind;
  state: "open" | "refused";
  pty: boolean;
  /** Masking windows and trail decoders (exec and shell channels). */
  output: ChannelOutput;
  sftp?: SftpGate;
  forward?: ForwardState;
  recorded: number;
  truncatedNoted: boolean;
  /** Typed bytes relayed to the host that the input masking window still holds, as last recorded. */
  inputHeld: number;
}

type Phase = "init" | "connecting" | "ready" | "closed";

export class SshEngine implements Engine {
  /** The approval hold, shared with every protocol (worker/chain/filters/approval-hold.ts). */
  private readonly holdChain = this.createHoldChain();
  private phase: Phase = "init";
  private readonly channels = new Map<number, Channel>();
  /** Channel ids are never reused by the client: ids up to this one were seen (frames for closed ones are ignored). */
  private highestChannel = -1;
  /** Same for channels the host opens (ids from INCOMING_CHANNEL_BASE). */
  private highestIncoming = INCOMING_CHANNEL_BASE - 1;
  private readonly forwards = new ForwardGate();
  private connectorReady?: { resolve: () => void; reject: (e: { code: string; message: string }) => void };
  private mask: SshTextMasker | undefined;
  private maskedSoFar = 0;
  /** Output processing (connector data and idle flushes) in order. */
  private outputChain: Promise<void> = Promise.resolve();
  /**
   * The shared recording filter's trail (worker/chain/filters/recording.ts), driven per request:
   * each request's event joined by its decision (one batch), its text masked by the session's
   * rules, SSH requests durable before they are forwarded, output recorded as the client receives
   * it and held until durable, a failed write ends the session.
   */
  private readonly trail: Trail = recordingFilter<never>({ audit: () => this.host.audit, maskTexts: (texts) => (this.mask ? texts.map((t) => this.mask!.text(t)) : texts) }).trail;
  /** Sends through the trail's gates (SSH requests durable before the host sees them; output after its events); a failed write ends the session. */
  private readonly sends = gatedSends(this.trail, () => this.host, (refusal) => this.end("error", refusal.message, refusal.code ?? "08P01"));
  /** The shared result-masking filter over the channel's streaming windows (ChannelOutput: one per stream). */
  private readonly resultMasking = resultMaskingFilter<OutputPiece>({
    masker: { process: (piece) => ({ ...piece, bytes: piece.channel.output.push(piece.stream, piece.bytes) }), counts: () => this.mask?.counts() ?? {} },
  });

  constructor(
    private readonly host: EngineHost,
    private readonly options: SshEngineOptions = {},
  ) {}

  // ---------------------------------------------------------------- client → target

  async onClientControl(raw: ControlMessage): Promise<void> {
    if (this.phase === "closed") return;
    const message = parseSshClientMessage(raw);
    if (!message) return this.fail("protocol", `gatehouse: malformed or unknown SSH control message ${JSON.stringify(String(raw.t).slice(0, 40))}`);
    if (message.t === "ssh.start") return this.start();
    if (this.phase !== "ready") return this.fail("protocol", `gatehouse: ${message.t} before the SSH session is ready`);
    switch (message.t) {
      case "ssh.exec":
      case "ssh.shell":
      case "ssh.subsystem":
        return this.openChannel(message);
      case "ssh.window": {
        const ch = this.channels.get(message.ch);
        if (!ch || ch.state !== "open") return;
        // Like typed input, durable before the host sees it.
        await this.trail.relayed([() => this.host.audit.onEvent("term.resize", { ch: message.ch, cols: message.cols, rows: message.rows })]);
        this.sends.connectorControl(message);
        return;
      }
      case "ssh.signal": {
        const ch = this.channels.get(message.ch);
        if (!ch || ch.state !== "open") return;
        await this.trail.relayed([() => this.host.audit.onEvent("ssh.signal", { ch: message.ch, signal: message.name })]);
        this.sends.connectorControl(message);
        return;
      }
      case "ssh.forward":
        return this.forwardRequest(message);
    }
  }

  private async start(): Promise<void> {
    if (this.phase !== "init") return this.fail("protocol", "gatehouse: duplicate ssh.start");
    const { host } = this;
    if (this.options.textMask) {
      try {
        this.mask = this.options.textMask();
      } catch (e) {
        return this.fail("masking", `gatehouse: masking rules apply to this session but masking is unavailable (${(e as Error).message}); refusing to run unmasked`);
      }
    }
    const decision = host.policy.decideConnect();
    await this.recordDecision(decision);
    if (decision.effect !== "allow") {
      const why = decision.effect === "approve" ? `${decision.reason}; connecting requires an approval, which this gateway cannot grant yet` : decision.reason;
      return this.end("denied", `gatehouse: access to resource ${host.resource.name} refused: ${why}`, "denied");
    }
    this.phase = "connecting";
    const ready = new Promise<void>((resolve, reject) => (this.connectorReady = { resolve, reject }));
    const timer = setTimeout(() => this.connectorReady?.reject({ code: "ssh-timeout", message: "timed out waiting for the connector" }), CONNECT_TIMEOUT_MS);
    try {
      await host.openConnectorStream();
      this.sends.connectorControl({ t: "open", resource: host.resource.name });
      await ready;
      // The session may have ended while the connector dialled (terminated): never reopen it.
      if (this.phase !== "connecting") return;
      this.phase = "ready";
      this.sends.sendControlToClient({ t: "ssh.ready" });
    } catch (e) {
      const err = e as { code?: string; message?: string };
      const text = err.message ?? String(e);
      this.end("error", text.startsWith("gatehouse:") ? text : `gatehouse: resource ${host.resource.name}: ${text}`, typeof err.code === "string" ? err.code : "ssh-unreachable");
    } finally {
      clearTimeout(timer);
      this.connectorReady = undefined;
    }
  }

  private async openChannel(message: Extract<SshClientMessage, { t: "ssh.exec" | "ssh.shell" | "ssh.subsystem" }>): Promise<void> {
    const { host } = this;
    if (message.ch <= this.highestChannel) return this.fail("protocol", `gatehouse: channel ${message.ch} already had a request (channel ids are never reused)`);
    this.highestChannel = message.ch;
    if (this.channels.size >= MAX_SSH_CHANNELS) return this.fail("protocol", `gatehouse: more than ${MAX_SSH_CHANNELS} SSH channels`);
    const { kept, dropped } = forwardedEnv(message.env);
    const pty = "pty" in message && message.pty !== undefined;
    let kind: ChannelKind;
    let decision: Decision;
    let what: string;
    let transfer: ReturnType<typeof transferMode> = { kind: "none" };
    if (message.t === "ssh.exec") {
      kind = "exec";
      what = "command";
      // Without a terminal, an editor reads its commands from the client's input (codec/shell/no-terminal.ts).
      const parsed = parseCommandLine(message.command);
      const line = pty ? parsed : withoutTerminal(parsed);
      this.trail.request({
        protocol: "ssh",
        message: "exec",
        text: message.command,
        statements: line.commands.map((c) => ({ kind: c.kind, command: this.masked(c.kind === "unknown" ? `unknown: ${c.reason ?? ""}` : c.name), flags: commandFlags(c).map((f) => this.masked(f)) })),
      });
      decision = await this.decideGated({ kind: "exec", line });
      transfer = transferMode(line);
      if (decision.effect === "allow" && this.mask && transfer.kind === "unmaskable") {
        decision = { effect: "deny", rule: null, reason: `masking rules apply to this session and ${transfer.what} cannot be masked exactly (deltas, compressed data, checksums); download with scp or the sftp subsystem instead`, matched: [] };
      }
    } else if (message.t === "ssh.shell") {
      kind = "shell";
      what = "interactive shell";
      this.trail.request({ protocol: "ssh", message: "shell", text: "" });
      decision = await this.decideGated({ kind: "shell" });
      if (!pty) decision = decideShellWithoutTerminal(decision, (r) => this.decide(r));
    } else {
      this.trail.request({ protocol: "ssh", message: "subsystem", text: message.name });
      if (message.name !== "sftp") {
        kind = "exec";
        what = "subsystem";
        decision = { effect: "deny", rule: null, reason: `the SSH subsystem '${message.name.slice(0, 64)}' is not supported through the gateway`, matched: [] };
      } else {
        kind = "sftp";
        what = "sftp";
        decision = { effect: "allow", rule: null, reason: "sftp subsystem opened; every SFTP operation is decided on its own", matched: [] };
      }
    }
    await this.recordDecision(decision);
    if (dropped.length > 0) await host.audit.onEvent("ssh.env-dropped", { ch: message.ch, names: dropped.slice(0, 64) });
    let refusal: string | undefined;
    if (decision.effect === "approve") ({ decision, refusal } = await this.holdForApproval(message, decision, what, pty));

    const channel: Channel = { kind, state: "open", pty, output: new ChannelOutput(this.mask, transfer.kind === "same-length" ? { sameLength: true, hold: transfer.hold } : { sameLength: false, hold: true }), recorded: 0, truncatedNoted: false, inputHeld: 0 };
    this.channels.set(message.ch, channel);
    if (decision.effect !== "allow") {
      channel.state = "refused";
      this.refuse(message.ch, refusal ?? `gatehouse: ${what} refused: ${decision.reason}`, pty);
      return;
    }
    if (kind === "sftp") channel.sftp = new SftpGate((req, op, paths) => this.decideSftp(req.name, op, paths), this.mask?.sftpReads());
    if (pty && message.pty) await host.audit.onEvent("term.resize", { ch: message.ch, cols: message.pty.cols, rows: message.pty.rows, term: message.pty.term });
    const forwarded: SshClientMessage = { ...message };
    if (Object.keys(kept).length > 0) forwarded.env = kept;
    else delete forwarded.env;
    if (forwarded.t !== "ssh.subsystem") await this.decideSessionForwarding(forwarded, pty);
    this.sends.connectorControl(forwarded);
  }

  /**
   * Agent (-A) and X11 (-X) requests ride on exec/shell. Each is decided on its own; a refused one
   * is stripped (the command still runs, as with an SSH server that refuses forwarding) and the
   * client is told on the channel's stderr.
   */
  private async decideSessionForwarding(message: Extract<SshClientMessage, { t: "ssh.exec" | "ssh.shell" }>, pty: boolean): Promise<void> {
    for (const what of ["agent", "x11"] as const) {
      if (!message[what]) continue;
      const label = what === "agent" ? "agent" : "X11";
      this.trail.request({ protocol: "ssh", message: "forward", text: `${what} (channel ${message.ch})` }, { maskText: false });
      const decision = await this.decideGated(what === "agent" ? { kind: "agent-forward" } : { kind: "x11" });
      await this.recordDecision(decision);
      if (decision.effect === "allow") {
        this.forwards[what] = true;
        continue;
      }
      delete message[what];
      const why = decision.effect === "approve" ? `it matches an approve rule (${decision.reason}); forwarding is granted by allow rules or JIT grants, never held` : decision.reason;
      this.sends.sendToClient([encodeSshData(message.ch, STREAM_STDERR, new TextEncoder().encode(`gatehouse: ${label} forwarding refused: ${why}${pty ? "\r\n" : "\n"}`))]);
    }
  }

  private async decideSftp(name: string, op: SftpOperation, paths: string[]): Promise<{ allowed: boolean; message: string }> {
    this.trail.request({ protocol: "ssh", message: "sftp", text: `${name} ${paths.join(" ")}`.trim() });
    const decision = await this.decideGated({ kind: "sftp", op, paths, detail: name });
    await this.recordDecision(decision);
    if (decision.effect === "allow") return { allowed: true, message: "" };
    const why = decision.effect === "approve" ? `requires approval (${decision.reason}), which this gateway cannot grant yet` : decision.reason;
    return { allowed: false, message: `gatehouse: refused: ${why}` };
  }

  /** -L / -W / streamlocal (a direct channel) and -R (a listener on the host): decided on the canonical target. */
  private async forwardRequest(message: ForwardRequest): Promise<void> {
    const { host } = this;
    const target = forwardTarget(message.kind, message);
    const direct = message.kind === "local" || message.kind === "streamlocal";
    if (direct) {
      if (message.ch! <= this.highestChannel) return this.fail("protocol", `gatehouse: channel ${message.ch} already had a request (channel ids are never reused)`);
      this.highestChannel = message.ch!;
    }
    if (message.cancel) {
      const refusal = this.forwards.begin(message);
      await host.audit.onEvent("ssh.forward-cancel", { id: message.id, target, ...(refusal ? { refused: refusal } : {}) });
      if (refusal) return this.sends.sendControlToClient({ t: "ssh.forward-result", id: message.id, ok: false, message: `gatehouse: ${refusal}` });
      this.sends.connectorControl({ t: "ssh.listen", id: message.id, kind: message.kind, host: message.host, port: message.port, path: message.path, cancel: true });
      return;
    }
    const origin = direct ? ` from ${message.originHost}:${message.originPort}` : "";
    this.trail.request({ protocol: "ssh", message: "forward", text: `${target}${origin}` });
    const decision = await this.decideGated({ kind: "port-forward", target });
    await this.recordDecision(decision);
    let refusal: string | undefined;
    if (decision.effect === "approve") refusal = `${message.kind} forwarding to ${target} refused: it matches an approve rule (${decision.reason}); forwarding is granted by allow rules or JIT grants, never held`;
    else if (decision.effect !== "allow") refusal = `${message.kind} forwarding to ${target} refused: ${decision.reason}`;
    else if (direct && this.channels.size >= MAX_SSH_CHANNELS) refusal = `${message.kind} forwarding to ${target} refused: more than ${MAX_SSH_CHANNELS} channels in this session`;
    else if (!direct) refusal = this.forwards.begin(message);
    if (refusal) return this.sends.sendControlToClient({ t: "ssh.forward-result", id: message.id, ok: false, message: `gatehouse: ${refusal}` });
    if (direct) {
      const ch = message.ch!;
      this.channels.set(ch, this.forwardChannel(message.kind, target));
      this.sends.connectorControl({ t: "ssh.direct", ch, kind: message.kind as "local" | "streamlocal", host: message.host, port: message.port, path: message.path, originHost: message.originHost!, originPort: message.originPort! });
    } else {
      this.sends.connectorControl({ t: "ssh.listen", id: message.id, kind: message.kind, host: message.host, port: message.port, path: message.path });
    }
  }

  private forwardChannel(kind: string, target: string): Channel {
    return { kind: "forward", state: "open", pty: false, output: new ChannelOutput(undefined, { sameLength: false, hold: true }), forward: { kind, target, up: 0, down: 0 }, recorded: 0, truncatedNoted: false, inputHeld: 0 };
  }

  /** A channel the host opened towards the client: relayed only if this session was granted what it belongs to. */
  private async onIncoming(raw: ControlMessage): Promise<void> {
    const m: IncomingOpen | null = parseIncomingOpen(raw);
    if (!m) return this.end("error", "gatehouse: invalid ssh.incoming from the connector", "protocol");
    if (m.ch <= this.highestIncoming) return this.end("error", `gatehouse: the connector reused channel ${m.ch}`, "protocol");
    this.highestIncoming = m.ch;
    const target = m.kind === "remote" ? `remote:${m.host}:${m.port}` : m.kind === "remote-streamlocal" ? `remote-streamlocal:${m.path}` : m.kind;
    const origin = m.originHost !== undefined ? `${m.originHost}:${m.originPort}` : undefined;
    let refusal = this.forwards.refusal(m);
    if (!refusal && this.channels.size >= MAX_SSH_CHANNELS) refusal = `more than ${MAX_SSH_CHANNELS} channels in this session`;
    if (refusal) {
      await this.host.audit.onEvent("ssh.forward-refused", { ch: m.ch, kind: m.kind, target, ...(origin ? { origin } : {}), reason: refusal });
      this.sends.sendToConnector([encodeChannelEvent(m.ch, { t: "close" })]);
      return;
    }
    this.channels.set(m.ch, this.forwardChannel(m.kind, target));
    await this.host.audit.onEvent("ssh.forward-open", { ch: m.ch, kind: m.kind, target, ...(origin ? { origin } : {}) });
    this.sends.sendControlToClient(m);
  }

  private async onListenResult(raw: ControlMessage): Promise<void> {
    const result = parseListenResult(raw);
    if (!result) return this.end("error", "gatehouse: invalid ssh.listen-result from the connector", "protocol");
    const done = this.forwards.finish(result);
    if (!done) return;
    const target = forwardTarget(done.request.kind, done.port !== undefined ? { ...done.request, port: done.port } : done.request);
    const message = result.ok ? "" : `gatehouse: the host refused ${done.cancel ? "to cancel " : ""}the ${done.request.kind} forward ${target}: ${result.message ?? "request failed"}`;
    await this.host.audit.onEvent(done.cancel ? "ssh.forward-cancelled" : "ssh.forward-listen", { id: result.id, target, ok: result.ok, ...(result.ok ? {} : { message }) });
    this.sends.sendControlToClient({ t: "ssh.forward-result", id: result.id, ok: result.ok, message, ...(done.port !== undefined ? { port: done.port } : {}) });
  }

  /** Forwarded connections are recorded as open/close with byte counts (their content is opaque). */
  private async closeForward(chId: number, ch: Channel, by: "client" | "host"): Promise<void> {
    const f = ch.forward!;
    await this.host.audit.onEvent("ssh.forward-close", { ch: chId, kind: f.kind, target: f.target, by, bytesUp: f.up, bytesDown: f.down });
  }

  async onClientData(bytes: Uint8Array): Promise<void> {
    if (this.phase !== "ready") {
      if (this.phase === "closed") return;
      return this.fail("protocol", "gatehouse: SSH channel data before the session is ready");
    }
    let frame;
    try {
      frame = decodeSshData(bytes);
    } catch (e) {
      return this.fail("protocol", `gatehouse: ${(e as Error).message}`);
    }
    const ch = this.channels.get(frame.ch);
    if (!ch) {
      // A channel that already ended (the two sides close concurrently).
      if (frame.ch < INCOMING_CHANNEL_BASE ? frame.ch <= this.highestChannel : frame.ch <= this.highestIncoming) return;
      return this.fail("protocol", `gatehouse: data for unknown SSH channel ${frame.ch}`);
    }
    if (frame.stream === STREAM_EVENT) {
      let event;
      try {
        event = parseChannelEvent(frame.bytes);
      } catch (e) {
        return this.fail("protocol", `gatehouse: ${(e as Error).message}`);
      }
      if (event.t !== "eof" && event.t !== "close") return this.fail("protocol", `gatehouse: the client may not send a channel ${event.t} event`);
      // The input ends: what the input window still holds is recorded, masked (it resolves the placeholder).
      if (ch.state === "open" && !ch.forward && (ch.kind === "shell" || ch.pty)) await this.recordInput(frame.ch, ch, ch.output.input(new Uint8Array(0), true), false);
      if (event.t === "close") {
        const wasOpen = ch.state === "open";
        this.dropChannel(frame.ch);
        if (!wasOpen) return;
        if (ch.forward) await this.closeForward(frame.ch, ch, "client");
      } else if (ch.state !== "open") return;
      this.sends.sendToConnector([encodeChannelEvent(frame.ch, event)]);
      return;
    }
    if (frame.stream !== STREAM_STDOUT) return this.fail("protocol", "gatehouse: the client may only send stdin");
    if (ch.state !== "open") return; // refused channel: its input goes nowhere
    if (ch.sftp) {
      let result;
      try {
        result = await ch.sftp.fromClient(frame.bytes);
      } catch (e) {
        if (e instanceof SftpProtocolError) {
          this.refuse(frame.ch, `gatehouse: SFTP protocol error: ${e.message}`, false, EXIT_GATEWAY_ERROR);
          ch.state = "refused";
          this.sends.sendToConnector([encodeChannelEvent(frame.ch, { t: "close" })]);
          return;
        }
        throw e;
      }
      for (const packet of result.forward) this.sends.sendToConnector([encodeSshData(frame.ch, STREAM_STDOUT, packet)]);
      for (const reply of result.reply) this.sends.sendToClient([encodeSshData(frame.ch, STREAM_STDOUT, reply)]);
      return;
    }
    if (ch.forward) ch.forward.up += frame.bytes.length;
    // Typed input is durable before the host gets it: the send below commits it first (one write per chunk).
    else if (ch.kind === "shell" || ch.pty) await this.recordInput(frame.ch, ch, ch.output.input(frame.bytes), frame.bytes.length > 0);
    // The frame is already exactly what the connector expects (stdin of this channel): pass it on as is.
    this.sends.sendToConnector([bytes]);
  }

  // ---------------------------------------------------------------- target → client

  async onConnectorData(bytes: Uint8Array): Promise<void> {
    if (this.phase !== "ready") return;
    const run = this.outputChain.then(() => this.onTargetFrame(bytes));
    this.outputChain = run.catch(() => {});
    await run;
  }

  private async onTargetFrame(bytes: Uint8Array): Promise<void> {
    let frame;
    try {
      frame = decodeSshData(bytes);
    } catch (e) {
      if (e instanceof SshFrameError) return this.end("error", `gatehouse: invalid SSH frame from the connector: ${e.message}`, "protocol");
      throw e;
    }
    const ch = this.channels.get(frame.ch);
    if (!ch || ch.state !== "open") return; // late output of a channel the client already closed
    if (ch.forward) return this.onForwardFrame(frame.ch, ch, frame.stream, frame.bytes, bytes);
    if (frame.stream === STREAM_EVENT) {
      const event = parseChannelEvent(frame.bytes);
      if (event.t === "error") {
        await this.flushOutput(frame.ch, ch);
        await this.host.audit.onEvent("ssh.channel-error", { ch: frame.ch, message: this.masked(event.message) });
        ch.state = "refused";
        this.refuse(frame.ch, `gatehouse: resource ${this.host.resource.name}: ${event.message}`, ch.pty, EXIT_GATEWAY_ERROR);
        return;
      }
      await this.flushOutput(frame.ch, ch);
      if (event.t === "exit") {
        await this.trail.answer([() => this.host.audit.onResult({ rows: 0, commandTag: event.signal ? `signal ${event.signal}` : `exit ${event.code}` })]);
      }
      if (event.t === "close") {
        this.dropChannel(frame.ch);
        await this.recordMaskingCounts();
      }
      this.sends.sendToClient([encodeChannelEvent(frame.ch, event)]);
      return;
    }
    if (ch.sftp) {
      if (frame.stream !== STREAM_STDOUT) return this.sendOutput(frame.ch, frame.stream, this.maskOutput(ch, frame.stream, frame.bytes));
      let packets;
      try {
        packets = ch.sftp.fromServer(frame.bytes);
      } catch (e) {
        if (!(e instanceof SftpProtocolError)) throw e;
        // File contents that cannot be framed cannot be masked: end the channel (fail closed).
        await this.host.audit.onEvent("ssh.channel-error", { ch: frame.ch, message: this.masked(`SFTP reply from the host cannot be masked: ${e.message}`) });
        ch.state = "refused";
        this.refuse(frame.ch, `gatehouse: SFTP reply from the host cannot be masked: ${e.message}`, false, EXIT_GATEWAY_ERROR);
        this.sends.sendToConnector([encodeChannelEvent(frame.ch, { t: "close" })]);
        return;
      }
      if (packets === null) this.sendOutput(frame.ch, frame.stream, frame.bytes);
      else for (const p of packets) this.sendOutput(frame.ch, frame.stream, p);
      return;
    }
    const out = this.maskOutput(ch, frame.stream, frame.bytes);
    if (out.length > 0) await this.emitMasked(frame.ch, ch, frame.stream, out);
  }

  /** Forwarded bytes pass unchanged (no masking: any protocol may ride a forward, and rewriting it would corrupt it). */
  private async onForwardFrame(chId: number, ch: Channel, stream: number, bytes: Uint8Array, frame: Uint8Array): Promise<void> {
    if (stream !== STREAM_EVENT) {
      ch.forward!.down += bytes.length;
      // Unchanged, so the connector's frame goes on as is (no copy per frame).
      if (stream === STREAM_STDOUT) this.sends.sendToClient([frame]);
      else this.sendOutput(chId, STREAM_STDOUT, bytes);
      return;
    }
    const event = parseChannelEvent(bytes);
    if (event.t === "exit") return;
    if (event.t === "error") {
      await this.host.audit.onEvent("ssh.channel-error", { ch: chId, message: event.message, target: ch.forward!.target });
      this.dropChannel(chId);
      this.sends.sendToClient([encodeChannelEvent(chId, event), encodeChannelEvent(chId, { t: "close" })]);
      return;
    }
    if (event.t === "close") {
      this.dropChannel(chId);
      await this.closeForward(chId, ch, "host");
    }
    this.sends.sendToClient([encodeChannelEvent(chId, event)]);
  }

  /** The channel's output ends (exit, close, error): release what the masking windows still hold. */
  private async flushOutput(chId: number, ch: Channel): Promise<void> {
    for (const { stream, bytes } of ch.output.end()) await this.emitMasked(chId, ch, stream, bytes);
    for (const stream of [STREAM_STDOUT, STREAM_STDERR]) await this.record(chId, ch, ch.output.text(stream, new Uint8Array(0), true));
    if (ch.kind === "shell" || ch.pty) await this.recordInput(chId, ch, ch.output.input(new Uint8Array(0), true), false);
  }

  /** Masked bytes: recorded exactly as sent (decoded for the trail), then sent. */
  private async emitMasked(chId: number, ch: Channel, stream: number, bytes: Uint8Array): Promise<void> {
    await this.record(chId, ch, ch.output.text(stream, bytes));
    this.sendOutput(chId, stream, bytes);
  }

  /**
   * Typed input for the trail, recorded before it is relayed (`relayed`: the next send to the host
   * commits it). `data` is what the channel's input window settled, masked; what it still holds
   * is recorded as a placeholder, its byte count (`held`), until a later event carries it masked —
   * so the trail never holds an unmasked secret, and no typed byte reaches the host unrecorded.
   */
  private async recordInput(chId: number, ch: Channel, typed: { text: string; held: number }, sent: boolean): Promise<void> {
    if (!sent && typed.text.length === 0 && typed.held === ch.inputHeld) return;
    ch.inputHeld = typed.held;
    await this.trail.relayed([() => this.host.audit.onEvent("term.input", { ch: chId, data: typed.text, ...(typed.held > 0 ? { held: typed.held } : {}) })]);
  }

  /** Recording sees exactly what the client receives (after masking). */
  private async record(chId: number, ch: Channel, text: string): Promise<void> {
    if (text.length === 0) return;
    if (ch.kind === "exec" && !ch.pty) {
      if (ch.recorded >= MAX_RECORDED_EXEC_OUTPUT) {
        if (!ch.truncatedNoted) {
          ch.truncatedNoted = true;
          await this.host.audit.onEvent("truncated", { reason: "exec-output-limit", action: "truncate", message: `exec output on channel ${chId} beyond ${MAX_RECORDED_EXEC_OUTPUT} characters is not recorded` });
        }
        return;
      }
      ch.recorded += text.length;
    }
    await this.trail.answer([() => this.host.audit.onEvent("term.output", { ch: chId, data: text })]);
  }

  private sendOutput(chId: number, stream: number, bytes: Uint8Array): void {
    for (let off = 0; off < bytes.length; off += OUT_CHUNK) {
      this.sends.sendToClient([encodeSshData(chId, stream, bytes.subarray(off, Math.min(bytes.length, off + OUT_CHUNK)))]);
    }
  }

  async onConnectorControl(message: ControlMessage): Promise<void> {
    if (message.t === "ssh.incoming" || message.t === "ssh.listen-result") {
      if (this.phase !== "ready") return;
      // In the output chain: a host channel's first bytes (DATA) must find it registered.
      const run = this.outputChain.then(() => (message.t === "ssh.incoming" ? this.onIncoming(message) : this.onListenResult(message)));
      this.outputChain = run.catch(() => {});
      await run;
      return;
    }
    if (message.t === "ready") {
      this.connectorReady?.resolve();
    } else if (message.t === "error") {
      const err = { code: String(message.code ?? "ssh-error"), message: String(message.message ?? "connector error") };
      if (this.connectorReady) this.connectorReady.reject(err);
      else this.end("error", err.message.startsWith("gatehouse:") ? err.message : `gatehouse: resource ${this.host.resource.name}: ${err.message}`, err.code);
    } else if (message.t === "close") {
      if (this.connectorReady) this.connectorReady.reject({ code: "ssh-closed", message: String(message.reason ?? "connector closed the stream") });
      else this.onConnectorLost(String(message.reason ?? "the target closed the connection"));
    }
  }

  onConnectorLost(reason: string): void {
    if (this.connectorReady) {
      this.connectorReady.reject({ code: "ssh-lost", message: `connector stream lost: ${reason}` });
      return;
    }
    this.end("error", `gatehouse: connection to resource ${this.host.resource.name} lost: ${reason}`, "ssh-lost");
  }

  onTerminate(code: string, reason: string): void {
    this.end("error", `gatehouse: ${reason}`, code);
  }

  cancel(): void {}

  // ---------------------------------------------------------------- helpers

  /**
   * A request's decision after the tenant's request rate (hosted mode): a throttled request is
   * denied like a policy denial (stderr + exit status), under the rate limit's own rule name.
   */
  private async decideGated(request: SshRequest): Promise<Decision> {
    const throttled = await this.host.admitRequest?.();
    if (throttled) return { effect: "deny", rule: RATE_LIMIT_RULE, reason: throttled.message.replace(/^gatehouse: request refused: /, ""), matched: [] };
    return this.decide(request);
  }

  private decide(request: SshRequest): Decision {
    const { host } = this;
    return host.policy.decide(sshRequest(request)).decision;
  }

  /** Refuse one channel: message on stderr, exit status, close — in-band, in order. */
  /**
   * The approval hold for a command or shell (same workflow as SQL statements): the request is
   * created, the client is told on the channel's stderr at once, and the channel waits. Approved →
   * the exact command that was approved runs; denied, expired or unreachable → refused (126).
   */
  private async holdForApproval(
    message: { ch: number; t: string; command?: string },
    decision: Decision,
    what: string,
    pty: boolean,
  ): Promise<{ decision: Decision; refusal?: string }> {
    const statement = message.t === "ssh.exec" ? (message.command ?? "") : "<interactive shell>";
    const request = { protocol: "ssh", actions: [message.t === "ssh.exec" ? "exec" : "shell"], text: statement };
    const out = await this.holdChain.decode({ decision, ch: message.ch, what, pty }, request);
    if (out.kind === "passed") return { decision: { ...decision, effect: "allow" } };
    return { decision: { ...decision, effect: "deny" }, refusal: out.refusal.message };
  }

  /** The shared approval-hold filter (worker/chain/) on this session's chain; the decision comes from the channel request. */
  private createHoldChain(): FilterChain<HeldChannel> {
    const toStderr = (line: string, held: HeldChannel) =>
      this.sends.sendToClient([encodeSshData(held.ch, STREAM_STDERR, new TextEncoder().encode(`${line}${held.pty ? "\r\n" : "\n"}`))]);
    return new FilterChain<HeldChannel>(
      [
        decidedFilter(),
        // Approvers see the command masked by the session's rules.
        requestMaskingFilter({ display: (request) => ({ text: this.masked(request.text) }) }),
        approvalHoldFilter<HeldChannel>({
          hold: (input) => this.host.holdForApproval({ statement: input.statement, displayText: input.displayText, decision: input.decision }),
          notify: (line, frame) => toStderr(line, frame.message),
          record: (event, frame) => this.recordDecision({ ...frame.message.decision, effect: event.effect, reason: event.reason }),
          failed: (decision, e, frame) => {
            const reason = `${frame.message.what} requires approval (${decision.reason}) but the approval request failed: ${e.message}`;
            return { recorded: reason, message: `gatehouse: ${reason}` };
          },
          notRun: (message, frame) => `gatehouse: ${frame.message.what} not run: ${message}`,
        }),
      ],
      // The refusal is sent by the engine on the channel (stderr, exit status, close).
      { forward: () => {}, deliver: () => {}, refuse: () => {} },
    );
  }

  private refuse(chId: number, text: string, pty: boolean, status = EXIT_REFUSED): void {
    const line = `${text}${pty ? "\r\n" : "\n"}`;
    this.sends.sendToClient([encodeSshData(chId, STREAM_STDERR, new TextEncoder().encode(line))]);
    this.sends.sendToClient([encodeChannelEvent(chId, { t: "exit", code: status })]);
    this.sends.sendToClient([encodeChannelEvent(chId, { t: "close" })]);
  }

  /** Masking counts (per rule, never values) into the trail whenever they grew, at channel close. */
  private async recordMaskingCounts(): Promise<void> {
    if (!this.mask) return;
    const counts = this.resultMasking.counts();
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    if (total === this.maskedSoFar) return;
    this.maskedSoFar = total;
    await this.host.audit.onMasking(counts);
  }

  /** Output bytes of an exec/shell channel stream → what may be sent now, masked (the shared result-masking filter). */
  private maskOutput(channel: Channel, stream: number, bytes: Uint8Array): Uint8Array {
    return this.resultMasking.mask({ channel, stream, bytes }).bytes;
  }

  private dropChannel(chId: number): void {
    this.channels.delete(chId);
  }

  /** Text for the trail and approvers, masked by the session's rules (command lines, paths, reasons). */
  private masked(text: string): string {
    return this.trail.text(text);
  }

  private async recordDecision(decision: Decision): Promise<void> {
    const event: DecisionEvent = { effect: decision.effect, rule: decision.rule, reason: this.masked(decision.reason) };
    if (decision.statementIndex !== undefined) event.statementIndex = decision.statementIndex;
    await this.trail.decision(event);
  }

  private fail(code: string, message: string): void {
    this.end("error", message, code);
  }

  private end(status: "error" | "denied" | "ok", reason: string, code?: string): void {
    if (this.phase === "closed") return;
    this.phase = "closed";
    // The reason is recorded (and may quote a host's or connector's message): masked too.
    let shown = reason;
    try {
      shown = this.masked(reason);
    } catch {
      shown = "gatehouse: session ended (its reason could not be masked)";
    }
    this.host.end({ status, reason: shown, ...(code ? { code } : {}) });
  }
}

/** A piece of a channel's output stream, for the result-masking filter. */
interface OutputPiece {
  channel: Channel;
  stream: number;
  bytes: Uint8Array;
}

/** A channel request held for approval on the chain. */
interface HeldChannel {
  decision: Decision;
  ch: number;
  /** "command", "interactive shell"…: how the client is told. */
  what: string;
  pty: boolean;
}
