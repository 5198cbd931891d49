/** An SSH channel request as the shared chain and the policy see it (protocols/types.ts RequestDescription). */
import type { RequestDescription } from "../../types.ts";
import type { SshRequest } from "./ssh.ts";

export function sshRequest(request: SshRequest): RequestDescription {
  const base = { protocol: "ssh", attributes: { request } } as const;
  switch (request.kind) {
    case "exec":
      return { ...base, actions: ["exec"], text: request.line.source };
    case "sftp":
      return { ...base, actions: ["sftp", request.op], text: `${request.op} ${request.paths.join(" ")}`, ...(request.paths[0] !== undefined ? { target: request.paths[0] } : {}) };
    case "port-forward":
      return { ...base, actions: ["port-forward"], text: `port-forward ${request.target}`, target: request.target };
    default:
      return { ...base, actions: [request.kind], text: request.kind };
  }
}
