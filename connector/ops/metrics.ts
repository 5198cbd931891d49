/**
 * The connector's operational counters, fed by its life-cycle events (`onEvent`) and rendered in
 * the Prometheus text exposition format (version 0.0.4). Counters only grow; gauges are read at
 * scrape time. Nothing here names a host, user or credential: labels are resource names only.
 */
import type { ConnectorEvent } from "../connector.ts";

export interface MetricsSnapshot {
  connected: boolean;
  liveSessions: number;
}

export class ConnectorMetrics {
  private sessionsStarted = 0;
  private readonly sessionsByResource = new Map<string, number>();
  private bytesToWorker = 0;
  private bytesFromWorker = 0;
  private dialFailures = 0;
  private readonly dialFailuresByCode = new Map<string, number>();
  private reconnects = 0;
  private connects = 0;
  private pauses = 0;
  private reloads = 0;
  private reloadFailures = 0;

  /** Count one connector event (pass as `onEvent`). */
  observe(event: ConnectorEvent): void {
    switch (event.type) {
      case "control-connected":
        // The main channel's; a sharded hub's extra channels come and go with the resources' placement.
        if (event.shard === undefined && this.connects++ > 0) this.reconnects++;
        break;
      case "stream-ready":
        this.sessionsStarted++;
        this.sessionsByResource.set(event.stats.resource, (this.sessionsByResource.get(event.stats.resource) ?? 0) + 1);
        break;
      case "stream-error":
        // A stream that never became ready failed to dial or authenticate to its target.
        if (event.stats.state !== "ready") {
          this.dialFailures++;
          this.dialFailuresByCode.set(event.code, (this.dialFailuresByCode.get(event.code) ?? 0) + 1);
        }
        break;
      case "stream-paused":
        this.pauses++;
        break;
      case "stream-closed":
        this.bytesToWorker += event.stats.bytesToWorker;
        this.bytesFromWorker += event.stats.bytesFromWorker;
        break;
    }
  }

  reloaded(ok: boolean): void {
    if (ok) this.reloads++;
    else this.reloadFailures++;
  }

  render(now: MetricsSnapshot): string {
    const out: string[] = [];
    const metric = (name: string, type: "counter" | "gauge", help: string, samples: Array<[labels: Record<string, string>, value: number]>) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) out.push(`${name}${labelText(labels)} ${value}`);
    };
    metric("gatehouse_connector_up", "gauge", "1 while the control channel to the gateway is connected.", [[{}, now.connected ? 1 : 0]]);
    metric("gatehouse_connector_sessions", "gauge", "Sessions with a live stream right now.", [[{}, now.liveSessions]]);
    metric("gatehouse_connector_sessions_total", "counter", "Sessions whose target connection became ready, by resource.", [
      ...[...this.sessionsByResource].map(([resource, n]) => [{ resource }, n] as [Record<string, string>, number]),
    ]);
    metric("gatehouse_connector_stream_bytes_total", "counter", "Payload bytes relayed by ended sessions, by direction.", [
      [{ direction: "to_worker" }, this.bytesToWorker],
      [{ direction: "from_worker" }, this.bytesFromWorker],
    ]);
    metric("gatehouse_connector_dial_failures_total", "counter", "Sessions that failed before their target was ready, by error code.", [
      ...[...this.dialFailuresByCode].map(([code, n]) => [{ code }, n] as [Record<string, string>, number]),
    ]);
    metric("gatehouse_connector_reconnects_total", "counter", "Control-channel reconnections after the first connection.", [[{}, this.reconnects]]);
    metric("gatehouse_connector_flow_pauses_total", "counter", "Times a target socket was paused for lack of flow-control credit.", [[{}, this.pauses]]);
    metric("gatehouse_connector_config_reloads_total", "counter", "Configuration reloads (SIGHUP), by result.", [
      [{ result: "ok" }, this.reloads],
      [{ result: "error" }, this.reloadFailures],
    ]);
    return out.join("\n") + "\n";
  }

  /** For tests and logs: totals without the text format. */
  totals(): { sessionsStarted: number; dialFailures: number; reconnects: number } {
    return { sessionsStarted: this.sessionsStarted, dialFailures: this.dialFailures, reconnects: this.reconnects };
  }
}

function labelText(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  // Exposition-format escaping: backslash, double quote and newline.
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",")}}`;
}
