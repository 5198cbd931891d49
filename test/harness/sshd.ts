/** The throwaway OpenSSH target lives with the local stack (client/dev/sshd.ts); tests use the same code. */
export * from "../../client/dev/sshd.ts";
