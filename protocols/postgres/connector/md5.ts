/** PostgreSQL md5 password response: "md5" + md5(md5(password + user) + salt). */
import { createHash } from "node:crypto";

export function md5PasswordResponse(username: string, password: string, salt: Uint8Array): string {
  const inner = createHash("md5").update(password, "utf8").update(username, "utf8").digest("hex");
  return "md5" + createHash("md5").update(inner, "utf8").update(salt).digest("hex");
}
