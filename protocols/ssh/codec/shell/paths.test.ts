import { describe, expect, it } from "vitest";
import { parseCommandLine } from "./parse.ts";

/** Canonical write targets of a line ("?" for unknown ones). */
const writes = (line: string) => parseCommandLine(line).commands.flatMap((c) => (c.writes ?? []).map((w) => (w.unknown ? "?" : `${w.path}${w.subtree ? "/**" : ""}`)));

describe("write targets in canonical form", () => {
  it("home by any spelling; relative paths start in the home", () => {
    expect(writes("echo > ~/.bashrc")).toEqual(["~/.bashrc"]);
    expect(writes("echo > $HOME/.bashrc")).toEqual(["~/.bashrc"]);
    expect(writes('echo > "${HOME}/.bashrc"')).toEqual(["~/.bashrc"]);
    expect(writes("echo > .bashrc")).toEqual(["~/.bashrc"]);
    expect(writes("echo > ./x/../.bashrc")).toEqual(["~/.bashrc"]);
    expect(writes("echo > ~root/.bashrc")).toEqual(["~root/.bashrc"]);
    expect(writes("echo > //root/./x/../.bashrc")).toEqual(["/root/.bashrc"]);
    expect(writes("echo > /dev/null")).toEqual([]);
    // Leaving the (unknown) home, or going through /proc links: the gateway cannot place it.
    expect(writes("echo > ../../etc/profile")).toEqual(["?"]);
    expect(writes("echo > ~/../../etc/profile")).toEqual(["?"]);
    expect(writes("echo > /proc/self/root/etc/profile")).toEqual(["?"]);
  });

  it("follows literal cd (every directory a cd could reach) and gives up after one it cannot follow", () => {
    expect(writes("cd /etc/profile.d && echo > x.sh")).toEqual(["~/x.sh", "/etc/profile.d/x.sh"]);
    expect(writes("(cd /tmp); echo > .bashrc")).toEqual(["~/.bashrc", "/tmp/.bashrc"]);
    expect(writes("cd ~/.ssh; echo > rc")).toEqual(["~/rc", "~/.ssh/rc"]);
    expect(writes('cd "$D"; echo > x')).toEqual(["?"]);
    expect(writes("cd sub; echo > x")).toEqual(["?"]); // CDPATH could redirect a bare name
    expect(writes("cd -; echo > x")).toEqual(["?"]);
    expect(writes("cd /tmp; echo > /abs")).toEqual(["/abs"]);
  });

  it("dynamic targets are unknown; writing programs report what they write", () => {
    expect(writes('echo > "$F"')).toEqual(["?"]);
    expect(writes("tee -a ~/.profile /tmp/x")).toEqual(["~/.profile", "/tmp/x"]);
    expect(writes("cp -t ~/.ssh k")).toEqual(["~/.ssh", "~/.ssh/k"]);
    expect(writes("mv /tmp/k ~/.ssh/authorized_keys")).toEqual(["~/.ssh/authorized_keys/**", "~/.ssh/authorized_keys/k/**"]); // mv moves trees
    expect(writes("ln -s ~/.bashrc l")).toEqual(["~/.bashrc", "~/l", "~/l/.bashrc"]); // l may be a directory
    expect(writes("dd if=x of=/etc/profile")).toEqual(["/etc/profile"]);
    expect(writes("sed -i -e p ~/.bashrc")).toEqual(["~/.bashrc"]);
    expect(writes("sed -n 'w /root/.bashrc' f")).toEqual(["/root/.bashrc"]);
    expect(writes("crontab /tmp/c")).toEqual(["/var/spool/cron/crontabs/user"]);
    expect(writes("crontab -l")).toEqual([]);
    expect(writes("systemctl --user enable x.service")).toEqual(["~/.config/systemd/user/x.service"]);
    expect(writes("git config --global core.pager x")).toEqual(["~/.gitconfig"]);
    expect(writes("git config --get user.name")).toEqual([]);
    expect(writes("scp -t .")).toEqual(["~/**"]);
    expect(writes("find . -fprint ~/.bashrc")).toEqual(["~/.bashrc"]);
    expect(writes("cp --backup=simple --suffix=rc x ~/.bash")).toEqual(["~/.bash", "~/.bashrc", "~/.bash~", "~/.bash/x"]);
    expect(writes("curl --output-dir /srv -O http://h/.bashrc")).toEqual(["/srv/**"]);
    expect(writes("wget http://h/x")).toEqual(["~/**"]);
    expect(writes("rename .bash .bashrc ~/.bash")).toEqual(["?"]);
    expect(writes("chmod 666 /etc/profile")).toEqual(["/etc/profile"]);
    expect(writes("chown -R u /srv/app")).toEqual(["/srv/app/**"]);
    expect(writes("tar xzf a.tgz")).toEqual(["~/**"]);
    expect(writes("tar -czf /tmp/a.tgz .")).toEqual(["/tmp/a.tgz"]);
    expect(writes("mv d ~/.config")).toEqual(["~/.config/**", "~/.config/d/**"]);
    expect(writes("cp -r d /srv")).toEqual(["/srv/**", "/srv/d/**"]);
    expect(writes("sort -o ~/.profile x")).toEqual(["~/.profile"]);
    expect(writes("openssl enc -out /etc/x")).toEqual(["/etc/x"]);
    expect(writes("sort -uo ~/.profile x")).toEqual(["~/.profile"]);
    // openssl's single-dash option words are no -o clusters: -noout, -nodes write nothing.
    expect(writes("openssl x509 -noout -in c.pem")).toEqual([]);
    expect(writes("openssl req -nodes -new -out r.pem")).toEqual(["~/r.pem"]);
    expect(writes("uniq in ~/.profile")).toEqual(["~/.profile"]);
    expect(writes("script -q -c id ~/.bashrc")).toEqual(["~/.bashrc"]);
    expect(writes("tar -x -f a.tgz --directory=/srv/app")).toEqual(["/srv/app/**"]);
    expect(writes("unzip a.zip -d /srv/app")).toEqual(["/srv/app/**"]);
    expect(writes("rsync -a src/ /srv/app/")).toEqual(["/srv/app/**"]);
    expect(writes("rsync -a src/ host:/srv/app/")).toEqual([]);
    expect(writes("rsync --server -logDtpre.iLsfxCIvu . /srv/up/")).toEqual(["/srv/up/**"]);
  });

  it("rsync's server side is not a remote shell; a client -e, or a server daemon config, runs programs", () => {
    const kinds = (line: string) => parseCommandLine(line).commands.map((c) => c.kind);
    expect(kinds("rsync --server --sender -e.LsfxCIvu . /home/x/secrets.txt")).toEqual(["command"]);
    expect(kinds("rsync -e 'sh -c x' host:a b")).toContain("unknown");
    expect(kinds("rsync -ae.x host:a b")).toContain("unknown");
    expect(kinds("rsync -e sh host:a b -- --server")).toContain("unknown");
    expect(kinds("rsync --server --daemon --config=/tmp/evil.conf .")).toContain("unknown");
  });
});
