/** Sample sensitive values and near misses, for tests and bench/masking.ts (all synthetic). */
import type { DetectorName } from "./config.ts";

export const POSITIVES: Record<DetectorName, string[]> = {
  private_key: [
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq98vZ\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----\\nMC4CAQAwBQYDK2VwBCIEIBx\\n-----END PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
  ],
  password_hash: [
    "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
    "$2y$10$abcdefghijklmnopqrstuuJ7W3Ck1m0YfGZkq9pZ2L6v2kD8d2e3K",
    "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
    "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
    "$7$C6..../....SodiumChloride$kBGj9fHznVYFQMEn/qDCfrDevf9YDtcDdKvEqHJLV8D",
  ],
  jwt: ["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"],
  github_token: ["ghp_1234567890abcdefghijklmnopqrstuvwxyzAB", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"],
  gitlab_token: ["glpat-xxxxxxxxxxxxxxxxxxxx1234"],
  slack_token: ["xoxb-123456789012-1234567890123-abcdefABCDEF"],
  aws_access_key: ["AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A"],
  bearer: ["Authorization: Bearer abcdef1234567890.xyz"],
  aws_secret_key: ["aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"],
  email: ["ann.lee+tag@example.com", "BOB@mail.example.co.uk"],
  iban: ["DE89370400440532013000", "GB82 WEST 1234 5698 7654 32", "FR1420041010050500013M02606"],
  card: ["4111111111111111", "4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6011111111111117"],
  ssn: ["123-45-6789", "078-05-1120"],
  phone: ["+1 415 555 2671", "+442079460958", "(415) 555-2671", "415-555-2671", "020 7946 0958"],
};

/** Values that look close but must be left alone by the named detector. */
export const NEGATIVES: Record<DetectorName, string[]> = {
  private_key: ["-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", "-----BEGIN PUBLIC KEY-----"],
  password_hash: ["$2b$12$short", "$argon2id$v=19", "costs $5$ each", "$6$ tip"],
  jwt: ["eyJhbGciOiJIUzI1NiJ9", "eyJ.eyJ.x", "eyJabc.d.e"],
  github_token: ["ghp_short", "ghx_1234567890abcdefghijklmnopqrstuvwxyzAB"],
  gitlab_token: ["glpat-short"],
  slack_token: ["xoxz-123456789012-abc", "xoxb-123"],
  aws_access_key: ["AKIA1234", "AKIAIOSFODNN7EXAMPLEX", "akiaiosfodnn7example"],
  bearer: ["Bearer short", "bearerabcdef1234567890"],
  aws_secret_key: ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "secret=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
  email: ["user@localhost", "a@b.c", "@example.com", "user@@example.com", "x@example.c0m"],
  iban: ["DE89370400440532013001", "GB82 WEST 1234 5698 7654 33", "XX00"],
  card: ["4111111111111112", "1234567812345678", "4111 1111-1111 1111", "2024-01-15", "41111111111111111111"],
  ssn: ["000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000", "123456789"],
  phone: ["2024-01-15 10:30:00", "v1.2.3", "4155552671", "123-456-7890", "192.168.100.200", "+1 234", "10:30:00.123456"],
};
