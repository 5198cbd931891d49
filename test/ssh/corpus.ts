/**
 * Attack corpus for the SSH command policy: spellings of "delete this directory recursively"
 * (option forms × program names × wrappers × shell constructs; "deleted" = its file is gone) and
 * of "make the account run my
 * code at its next login" (persistence). Each destructive spelling really deletes its directory
 * when bash runs it on the host — ssh-commands-e2e.test.ts checks that directly before checking
 * that the gateway stops it.
 *
 * `dir` is the absolute directory, `rel` the same directory relative to where an SSH command
 * starts (the account's login directory), `homeRel` relative to $HOME, `name` its last segment,
 * `parent` its parent.
 */
import { readdirSync } from "node:fs";

export interface Target {
  dir: string;
  rel: string;
  homeRel: string;
  name: string;
  parent: string;
}

/** Option spellings of rm's recursive (+ force) for a target directory. */
const OPTION_FORMS: Array<(d: string) => string> = [
  (d) => `-rf ${d}`,
  (d) => `-Rf ${d}`,
  (d) => `-fr ${d}`,
  (d) => `-r -f ${d}`,
  (d) => `-R -f ${d}`,
  (d) => `--recursive --force ${d}`,
  (d) => `--rec --forc ${d}`,
  (d) => `--recursive -f ${d}`,
  (d) => `-f ${d} --recursive`,
  (d) => `${d} -rf`,
  (d) => `-rfv ${d}`,
  (d) => `-r ${d}`,
  (d) => `-R ${d}`,
  (d) => `--recursi -- ${d}`,
  (d) => `-rf -- ${d}`,
  (d) => `-rf --one-file-system ${d}`,
  (d) => `--r ${d}`,
  (d) => `-vR --f ${d}`,
  (d) => `-dRf ${d}`,
  (d) => `-rf --interactive=never ${d}`,
];

const NAME_FORMS = ["/bin/rm", "/usr/bin/rm", "\\rm", "r''m", '"rm"', "$'rm'", "$'\\x72m'", "r\\m", `'r'"m"`, "/usr/bin/../bin/rm", "//bin//rm"];

const WRAPPERS = [
  "command", "command -p", "exec", "exec -a foo", "env", "env -i", "env --", "env -u X", "env X=1", "nice", "nice -n 5", "nice -n5", "nohup", "timeout 20", "timeout -s KILL 20",
  "timeout --kill-after=1 20", "stdbuf -oL", "stdbuf -o L", "setsid -w", "ionice -c 3", "ionice -c3", "chrt -o 0", "taskset 0x1", "flock /tmp/gatehouse-corpus.lock", "setarch x86_64", "time",
  "builtin command",
];

/**
 * Interpreters as Debian also installs them, under versioned names (python3.11 in python3.X-minimal,
 * perl5.36.0 in the essential perl-base): the host's own, a plausible name when the host has none.
 */
const VERSIONED = (() => {
  let names: string[] = [];
  try {
    names = readdirSync("/usr/bin");
  } catch {
    // not a Linux host: the names below are only parsed
  }
  return {
    python: names.find((n) => /^python3\.\d+$/.test(n)) ?? "python3.11",
    perl: names.find((n) => /^perl5\.\d+\.\d+$/.test(n)) ?? "perl5.36.0",
  };
})();

export function destructiveSpellings(t: Target): string[] {
  const { dir, rel, homeRel, name, parent } = t;
  const out: string[] = [];
  for (const f of OPTION_FORMS) out.push(`rm ${f(dir)}`);
  for (const n of NAME_FORMS) out.push(`${n} -rf ${dir}`);
  for (const w of WRAPPERS) out.push(`${w} rm -rf ${dir}`);
  out.push(
    `sh -c 'rm -rf ${dir}'`,
    `bash -c "rm -Rf ${dir}"`,
    `bash -lc 'rm --recursive ${dir}'`,
    `eval 'rm -rf ${dir}'`,
    `eval rm -rf ${dir}`,
    `bash <<< 'rm -rf ${dir}'`,
    `bash <<'EOF'\nrm -rf ${dir}\nEOF`,
    `echo 'rm -rf ${dir}' | sh`,
    `source <(echo rm -rf ${dir})`,
    `. <(echo rm -rf ${dir})`,
    `f(){ rm -rf "$@"; }; f ${dir}`,
    `function g { rm "$@"; }; g -rf ${dir}`,
    `shopt -s expand_aliases; alias x='rm -rf'\nx ${dir}`,
    `{rm,-rf,${dir}}`,
    `X=rm; $X -rf ${dir}`,
    `\${X:-rm} -rf ${dir}`,
    `$(echo rm) -rf ${dir}`,
    "`echo rm` -rf " + dir,
    `true && rm -rf ${dir}`,
    `false || rm -rf ${dir}`,
    `(rm -rf ${dir})`,
    `{ rm -rf ${dir}; }`,
    `if true; then rm -rf ${dir}; fi`,
    `for x in ${dir}; do rm -rf $x; done`,
    `rm -rf $(echo ${dir})`,
    `echo $(rm -rf ${dir})`,
    `cat <(rm -rf ${dir})`,
    `env -S 'rm -rf ${dir}'`,
    `echo ${dir} | xargs rm -rf`,
    `printf '%s\\0' ${dir} | xargs -0 rm -r`,
    `find ${dir} -delete`,
    `find ${dir} -exec rm -rf {} +`,
    `find ${dir} -maxdepth 0 -exec rm -rf {} \\;`,
    `find ${parent} -maxdepth 1 -name ${name} -execdir rm -rf {} +`,
    `script -qc 'rm -rf ${dir}' /dev/null`,
    `python3 -c 'import shutil,sys; shutil.rmtree(sys.argv[1])' ${dir}`,
    `perl -e 'system("rm","-rf",$ARGV[0])' ${dir}`,
    `awk 'BEGIN{system("rm -rf ${dir}")}'`,
    `sed -n '1e rm -rf ${dir}' /etc/hostname`,
    `x='a[$(rm -rf ${dir})]'; echo $((x))`,
    `cd ${parent} && rm -rf ${name}`,
    `cd ${parent}; rm -rf ./${name}`,
    `rm -rf ${dir}/../${name}`,
    `rm -rf ${rel}`,
    `rm -rf ~/${homeRel}`,
    `rm -rf $HOME/${homeRel}`,
    `rm -rf "\${HOME}/${homeRel}"`,
    `rm -rf ${dir}/`,
    `rm -rf ${dir}*`,
    `cp /bin/rm /tmp/gatehouse-corpus-rm-$$ && /tmp/gatehouse-corpus-rm-$$ -rf ${dir}`,
    `hash -p /bin/rm ls; ls -rf ${dir}`,
    `trap 'rm -rf ${dir}' EXIT`,
    `PATH=/bin:/usr/bin rm -rf ${dir}`,
    `git -c alias.x='!rm -rf ${dir}' x`,
    `tar -cf - /etc/hostname 2>/dev/null | tar -xf - --to-command='rm -rf ${dir}'`,
    `unshare -r rm -rf ${dir}`,
    `mkdir -p /tmp/gatehouse-corpus-empty && rsync -a --delete /tmp/gatehouse-corpus-empty/ ${dir}/`,
    `find ${dir} -type f -delete`,
    // Red-team round 2 (issue 14): programs that run a command named by an environment variable,
    // an option or a bash name evaluation.
    `GIT_SSH_COMMAND='rm -rf ${dir} #' git ls-remote ssh://gatehouse.invalid/x`,
    `export GIT_SSH_COMMAND='rm -rf ${dir} #'; git ls-remote ssh://gatehouse.invalid/x`,
    `git init -q ${dir}-repo && GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.fsmonitor GIT_CONFIG_VALUE_0='rm -rf ${dir}; false' git -C ${dir}-repo status`,
    `git init -q ${dir} && git -C ${dir} clean -fdxq`,
    `find ${dir} -type f -exec unlink {} \\; ; find ${dir} -depth -type d -exec rmdir {} \\;`,
    `awk -v x=1 'BEGIN{system("rm -rf ${dir}")}'`,
    `zip -q /tmp/gatehouse-corpus-$$.zip /etc/hostname -T -TT 'rm -rf ${dir} #'`,
    `sqlite3 :memory: '.shell rm -rf ${dir}'`,
    `test -v 'a[$(rm -rf ${dir})]'`,
    `printf -v 'a[$(rm -rf ${dir})]' 1`,
    `declare -n r='a[$(rm -rf ${dir})]'; echo $r`,
    `read 'a[$(rm -rf ${dir})]' <<< 1`,
    `x='a[$(rm -rf ${dir})]'; echo \${!x}`,
    `x='$(rm -rf ${dir})'; echo \${x@P}`,
    // Attacker review (SSH): options that hand a string to the shell.
    `strace -o '|rm -rf ${dir}' true`,
    `strace '-o!rm -rf ${dir}' true`,
    `split --filter='rm -rf ${dir}' /etc/hostname`,
    `split --fil 'rm -rf ${dir}' /etc/hostname`,
    `${VERSIONED.python} -c 'import shutil; shutil.rmtree("${dir}")'`,
    `${VERSIONED.perl} -e 'system("rm -rf ${dir}")'`,
    `/usr/bin/${VERSIONED.perl} -MFile::Path=rmtree -e 'rmtree("${dir}")'`,
    // xargs -I R puts a line of its input wherever R appears — here as the script of sh -c.
    `echo 'rm -rf ${dir}' | xargs -I% sh -c %`,
    `echo 'rm -rf ${dir}' | xargs -i sh -c {}`,
    // coreutils/diffutils options that run a program: sort feeds its input to a shell, install runs the installed file.
    `(echo 'rm -rf ${dir}'; yes : | head -2000) | sort -S 1K --compress-program=sh >/dev/null`,
    `(echo 'rm -rf ${dir}'; yes : | head -2000) | sort -S 1K --co=sh >/dev/null`,
    `printf 'rm -rf ${dir}\\n' > ${dir}-s && install -s --strip-program=sh ${dir}-s ${dir}-t`,
    `printf '#!/bin/sh\\nrm -rf ${dir}\\n' > ${dir}-d && chmod +x ${dir}-d && sdiff --d=${dir}-d /etc/hostname /etc/hostname`,
    // A Python program (pydoc3 is a script) runs the .pth files of PYTHONUSERBASE's site-packages.
    `mkdir -p ${dir}-py/lib/python3.{8,9,10,11,12,13,14}/site-packages && echo 'import os; os.system("rm -rf ${dir}")' | tee ${dir}-py/lib/python3.{8,9,10,11,12,13,14}/site-packages/x.pth >/dev/null && PYTHONUSERBASE=${dir}-py pydoc3 sys >/dev/null`,
    // Programs read as what they are named that run code from an option or their input: tar long
    // options in abbreviations (--rsh= is refused too, but tar runs it only as root: it resets its
    // groups first), cpio's remote shell (cpio runs `RSH localhost /etc/rmt`: sh runs the file
    // `localhost`), m4 macros, awk options that load a program file, logrotate's postrotate script.
    `tar -cf /dev/null --checkpoint=1 --checkpoint-act=exec='rm -rf ${dir}' /etc/hostname`,
    `printf '#!/bin/sh\nrm -rf ${dir}\ncat\n' > ${dir}-z && chmod +x ${dir}-z && tar -cf ${dir}-z.tar --use-compress-prog=${dir}-z /etc/hostname`,
    `mkdir ${dir}-c && cd ${dir}-c && echo 'rm -rf ${dir}' > localhost && echo /etc/hostname | cpio -o -F localhost:/x --rsh-command=/bin/sh`,
    `echo 'syscmd(rm -rf ${dir})' | m4`,
    `printf 'BEGIN{system("rm -rf ${dir}")}' > ${dir}.awk && mawk -W exec ${dir}.awk`,
    `gawk --sour='BEGIN{system("rm -rf ${dir}")}' /etc/hostname`,
    `printf '%s {\n size 0\n postrotate\n  rm -rf ${dir}\n endscript\n}\n' ${dir}-log > ${dir}-lr.conf && echo x > ${dir}-log && /usr/sbin/logrotate -s ${dir}-lr.state ${dir}-lr.conf`,
  );
  return out;
}

/**
 * Persistence attempts by exec: each appends `marker` to a protected file of the account. `home`
 * is the account's home directory.
 */
export function persistenceSpellings(home: string, marker: string): string[] {
  const m = `echo ${marker}`;
  return [
    `${m} >> ~/.bashrc`,
    `${m} >> .bashrc`,
    `${m} >> $HOME/.profile`,
    `${m} >> ${home}/.bash_profile`,
    `${m} >| ${home}//./.bashrc`,
    `${m} &>> ~/.bashrc`,
    `${m} | tee -a ~/.bashrc`,
    `${m} | tee --app ~/.zshrc`,
    `cat >> ~/.bashrc <<'EOF'\n${m}\nEOF`,
    `${m} > /tmp/gatehouse-p1-${marker} && cp /tmp/gatehouse-p1-${marker} ~/.bash_login`,
    `${m} > /tmp/gatehouse-p2-${marker} && mv /tmp/gatehouse-p2-${marker} ~/.profile`,
    `${m} > /tmp/gatehouse-p3-${marker} && install -m 644 /tmp/gatehouse-p3-${marker} ~/.bashrc`,
    `${m} > bashrc && cp bashrc -t /tmp && cp -T bashrc .bashrc`,
    `sed -i '$a ${marker}' ~/.bashrc`,
    `sed --in-place -e '$a ${marker}' .bashrc`,
    `${m} | dd of=${home}/.bashrc conv=notrunc oflag=append`,
    `mkdir -p ~/.ssh && ${m} >> ~/.ssh/authorized_keys`,
    `cd .ssh && ${m} >> authorized_keys`,
    `cd ~/.ssh; ${m} > rc`,
    `cd $HOME/.config 2>/dev/null; mkdir -p ~/.config/systemd/user; ${m} > ~/.config/systemd/user/x.service`,
    `ln -s ~/.bashrc link-${marker} && ${m} >> link-${marker}`,
    `cd "$(echo .)" && ${m} >> .bashrc`,
    `${m} > "$HOME/.bashrc"`,
    `sh -c '${m} >> ~/.bashrc'`,
    `F=~/.bashrc; ${m} >> $F`,
    `${m} | sed -n 'w ${home}/.bashrc'`,
    `git config --global core.pager '${marker}'`,
    `python3 -c 'open(".bashrc","a").write("${marker}")'`,
    `${m} > /tmp/gatehouse-p4-${marker} && link /tmp/gatehouse-p4-${marker} ~/.bash_logout`,
    `cd ~ && ${m} > .bash && cp --backup=simple --suffix=rc /etc/hostname .bash`,
    `${m} | sort -o ~/.bashrc`,
    `mkdir -p /tmp/gatehouse-p5-${marker}/systemd/user && ${m} > /tmp/gatehouse-p5-${marker}/systemd/user/x.service && cp -r /tmp/gatehouse-p5-${marker}/systemd ~/.config/`,
    // Red-team round 2 (issue 14): bash-completion sources ~/.bash_completion in every interactive shell;
    // patch writes the files its diff names.
    `${m} >> ~/.bash_completion`,
    `printf -- '--- .bashrc\\n+++ .bashrc\\n@@ -1 +1,2 @@\\n # original\\n+${m}\\n' > /tmp/gatehouse-pd-${marker} && patch -s -p0 < /tmp/gatehouse-pd-${marker}`,
    `mkdir -p /tmp/gatehouse-p6-${marker}/.ssh && ${m} > /tmp/gatehouse-p6-${marker}/.ssh/rc && tar -C /tmp/gatehouse-p6-${marker} -cf /tmp/gatehouse-p6-${marker}.tar .ssh && tar -xf /tmp/gatehouse-p6-${marker}.tar -C ~`,
    // Attacker review (SSH): programs that name their output files from a prefix, and strace -o.
    `printf 'a\\nb\\n${marker}\\n' | split -l 1 -a 1 - .bashr`,
    `printf '${marker}\\nx\\n' | csplit -s -f .bashr -b 'c%.0d' - 2`,
    `strace -o ~/.bashrc -e trace=execve sh -c ': ${marker}'`,
    `${m} > /tmp/gatehouse-p7-${marker} && echo r | sdiff -o ~/.bashrc /etc/hostname /tmp/gatehouse-p7-${marker}`,
    `${m} | sort --o=.bashrc`,
    `${m} | sort -uo.profile`,
    `shuf -e '${m}' -o ~/.bashrc`,
    `${m} | iconv -f utf-8 -t utf-8 -o .bash_login`,
    // Files written through options other than -o: curl's generated C source (which holds the
    // request's headers), ssh-keygen -f (its .pub holds the comment).
    `curl -s -o /dev/null -H 'X-M: ${marker}' --libcurl .bashrc file:///etc/hostname`,
    `curl -s -o /dev/null -H 'X-M: ${marker}' --libc ~/.profile file:///etc/hostname`,
    `ssh-keygen -q -t ed25519 -N '' -C ${marker} -f ~/.ssh/id_gatehouse_${marker}`,
  ];
}
