import { describe, expect, it } from "vitest";
import { KubeRequestError, describeKubeRequest, parseKubeRequest, selectedName, type KubeResourceRequest } from "./request.ts";

const res = (method: string, target: string) => {
  const r = parseKubeRequest(method, target);
  if (r.kind !== "resource") throw new Error(`not a resource request: ${target}`);
  return r as KubeResourceRequest;
};
const pick = (r: KubeResourceRequest) => ({ verb: r.verb, group: r.group, version: r.version, resource: r.resource, subresource: r.subresource, namespace: r.namespace, name: r.name });

describe("parseKubeRequest: what kubectl sends", () => {
  it.each([
    ["GET", "/api/v1/namespaces/default/pods?limit=500", { verb: "list", group: "", version: "v1", resource: "pods", subresource: "", namespace: "default", name: "" }],
    ["GET", "/api/v1/pods?limit=500", { verb: "list", group: "", version: "v1", resource: "pods", subresource: "", namespace: "", name: "" }],
    ["GET", "/api/v1/namespaces/default/configmaps?resourceVersion=2&watch=true", { verb: "watch", group: "", version: "v1", resource: "configmaps", subresource: "", namespace: "default", name: "" }],
    ["GET", "/apis/apps/v1/namespaces/prod/deployments/web", { verb: "get", group: "apps", version: "v1", resource: "deployments", subresource: "", namespace: "prod", name: "web" }],
    ["POST", "/api/v1/namespaces/default/secrets?fieldManager=kubectl-client-side-apply&fieldValidation=Strict", { verb: "create", group: "", version: "v1", resource: "secrets", subresource: "", namespace: "default", name: "" }],
    ["PUT", "/api/v1/namespaces/default/configmaps/settings", { verb: "update", group: "", version: "v1", resource: "configmaps", subresource: "", namespace: "default", name: "settings" }],
    ["PATCH", "/apis/apps/v1/namespaces/default/deployments/web?fieldManager=kubectl&force=false", { verb: "patch", group: "apps", version: "v1", resource: "deployments", subresource: "", namespace: "default", name: "web" }],
    ["DELETE", "/api/v1/namespaces/default/pods/shell", { verb: "delete", group: "", version: "v1", resource: "pods", subresource: "", namespace: "default", name: "shell" }],
    ["DELETE", "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb", { verb: "deletecollection", group: "", version: "v1", resource: "pods", subresource: "", namespace: "default", name: "" }],
    ["GET", "/api/v1/namespaces/apps/pods/shell/exec?command=sh&command=-c&command=id&container=main&stderr=true&stdout=true", { verb: "exec", group: "", version: "v1", resource: "pods", subresource: "exec", namespace: "apps", name: "shell" }],
    ["POST", "/api/v1/namespaces/apps/pods/shell/exec?command=id&stdout=true", { verb: "exec", group: "", version: "v1", resource: "pods", subresource: "exec", namespace: "apps", name: "shell" }],
    ["GET", "/api/v1/namespaces/apps/pods/shell/attach?stdin=true&stdout=true&tty=true", { verb: "attach", group: "", version: "v1", resource: "pods", subresource: "attach", namespace: "apps", name: "shell" }],
    ["GET", "/api/v1/namespaces/apps/pods/shell/portforward", { verb: "portforward", group: "", version: "v1", resource: "pods", subresource: "portforward", namespace: "apps", name: "shell" }],
    ["GET", "/api/v1/namespaces/apps/pods/shell/log?follow=true", { verb: "log", group: "", version: "v1", resource: "pods", subresource: "log", namespace: "apps", name: "shell" }],
    ["PATCH", "/apis/apps/v1/namespaces/prod/deployments/web/scale", { verb: "patch", group: "apps", version: "v1", resource: "deployments", subresource: "scale", namespace: "prod", name: "web" }],
    ["PUT", "/api/v1/namespaces/prod/pods/x/ephemeralcontainers", { verb: "update", group: "", version: "v1", resource: "pods", subresource: "ephemeralcontainers", namespace: "prod", name: "x" }],
    ["GET", "/api/v1/namespaces", { verb: "list", group: "", version: "v1", resource: "namespaces", subresource: "", namespace: "", name: "" }],
    // The namespace object: its namespace is itself, as in the API server's RequestInfo.
    ["DELETE", "/api/v1/namespaces/kube-system", { verb: "delete", group: "", version: "v1", resource: "namespaces", subresource: "", namespace: "kube-system", name: "kube-system" }],
    ["PUT", "/api/v1/namespaces/team-a/finalize", { verb: "update", group: "", version: "v1", resource: "namespaces", subresource: "finalize", namespace: "team-a", name: "team-a" }],
    ["GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:aggregate-to-edit", { verb: "get", group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterroles", subresource: "", namespace: "", name: "system:aggregate-to-edit" }],
  ])("%s %s", (method, target, want) => {
    expect(pick(res(method, target))).toEqual(want);
  });

  it("non-resource paths: discovery, OpenAPI, version", () => {
    expect(parseKubeRequest("GET", "/api?timeout=32s")).toMatchObject({ kind: "nonresource", category: "discovery" });
    expect(parseKubeRequest("GET", "/apis")).toMatchObject({ kind: "nonresource", category: "discovery" });
    expect(parseKubeRequest("GET", "/api/v1")).toMatchObject({ kind: "nonresource", category: "discovery" });
    expect(parseKubeRequest("GET", "/apis/apps/v1")).toMatchObject({ kind: "nonresource", category: "discovery" });
    expect(parseKubeRequest("GET", "/openapi/v3/apis/apps/v1?hash=AB")).toMatchObject({ kind: "nonresource", category: "openapi" });
    expect(parseKubeRequest("GET", "/version")).toMatchObject({ kind: "nonresource", category: "version" });
  });

  it("exec: the command words in order; stream flags by Go's ParseBool", () => {
    const r = res("GET", "/api/v1/namespaces/a/pods/p/exec?command=sh&command=-c&command=rm+-rf+%2Fdata&stdin=1&stdout=T&tty=false");
    expect(r.command).toEqual(["sh", "-c", "rm -rf /data"]);
    expect(r.streams).toEqual({ stdin: true, stdout: true, stderr: false, tty: false });
  });

  it("watch by any spelling Go reads as true; dryRun=All; fieldSelector pin", () => {
    for (const w of ["1", "t", "T", "TRUE", "true", "True"]) expect(res("GET", `/api/v1/pods?watch=${w}`).verb).toBe("watch");
    expect(res("GET", "/api/v1/pods?watch=false").verb).toBe("list");
    expect(res("DELETE", "/api/v1/namespaces/a/pods/p?dryRun=All").dryRun).toBe(true);
    const w = res("GET", "/api/v1/namespaces/a/configmaps?fieldSelector=metadata.name%3Ddoomed&watch=true");
    expect(selectedName(w)).toBe("doomed");
    expect(describeKubeRequest(w)).toBe("watch configmaps a/*");
  });

  it("percent-encoded names mean what the server decodes them to", () => {
    expect(pick(res("DELETE", "/api/v1/namespaces/kube%2Dsystem/pods/x"))).toMatchObject({ namespace: "kube-system", name: "x" });
    expect(pick(res("GET", "/api/v1/namespaces/default/%73ecrets/db"))).toMatchObject({ resource: "secrets", name: "db" });
  });
});

describe("parseKubeRequest: ambiguous or odd requests are refused", () => {
  it.each([
    ["encoded slash", "GET", "/api/v1/namespaces/a%2Fb/pods"],
    ["encoded slash (lower case)", "GET", "/api/v1/namespaces/default/secrets/x%2f..%2fy"],
    ["encoded backslash", "GET", "/api/v1/namespaces/a%5Cb/pods"],
    ["dot segment", "GET", "/api/v1/namespaces/default/pods/../secrets"],
    ["encoded dot segment", "GET", "/api/v1/namespaces/default/pods/%2e%2e/secrets"],
    ["single dot", "GET", "/api/v1/namespaces/./pods"],
    ["duplicate slash", "GET", "/api/v1/namespaces//pods"],
    ["leading duplicate slash", "GET", "//api/v1/pods"],
    ["trailing slash", "GET", "/api/v1/namespaces/default/pods/"],
    ["malformed percent", "GET", "/api/v1/namespaces/%zz/pods"],
    ["semicolon query", "GET", "/api/v1/pods?watch=false;watch=true"],
    ["repeated watch", "GET", "/api/v1/pods?watch=false&watch=true"],
    ["repeated fieldSelector", "GET", "/api/v1/pods?fieldSelector=metadata.name%3Da&fieldSelector=metadata.name%3Db"],
    ["watch not a boolean", "GET", "/api/v1/pods?watch=yes"],
    ["legacy watch prefix", "GET", "/api/v1/watch/namespaces/default/pods"],
    ["legacy proxy prefix", "GET", "/api/v1/proxy/namespaces/default/pods/p"],
    ["segments after a subresource", "GET", "/api/v1/namespaces/a/pods/p/exec/more"],
    ["upper-case resource", "DELETE", "/api/v1/namespaces/a/Pods/p"],
    ["unknown dryRun", "DELETE", "/api/v1/namespaces/a/pods/p?dryRun=Some"],
    ["control character", "GET", "/api/v1/namespaces/a/pods/p%0A"],
    ["fragment", "GET", "/api/v1/pods#x"],
    ["lower-case method", "get", "/api/v1/pods"],
    ["unknown method", "PROPFIND", "/api/v1/pods"],
    ["log by POST", "POST", "/api/v1/namespaces/a/pods/p/log"],
    ["bad port", "GET", "/api/v1/namespaces/a/pods/p/portforward?ports=70000"],
  ])("%s", (_why, method, target) => {
    expect(() => parseKubeRequest(method, target)).toThrow(KubeRequestError);
  });
});
