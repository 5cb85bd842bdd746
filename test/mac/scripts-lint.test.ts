// Static checks of the on-instance scripts: shellcheck, the bash-3.2 construct check, the
// protocol markers, and "paths.sh is the only file that names absolute paths".
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { INSTALLED_SET, MAC_DIR, OPS, REPO, opScript } from './helpers.js';

const BASH32_CHECK = join(REPO, 'test', 'mac', 'bash32-check.sh');
const STAND_INS = join(REPO, 'test', 'sandbox', 'stand-ins');

function shellcheck(args: string[], input?: string) {
  const r = spawnSync('shellcheck', args, { cwd: REPO, encoding: 'utf8', input });
  if (r.error) throw r.error;
  return r;
}

function scriptFiles(): string[] {
  const top = readdirSync(MAC_DIR)
    .filter((f) => f.endsWith('.sh'))
    .map((f) => join(MAC_DIR, f));
  const ops = readdirSync(join(MAC_DIR, 'ops'))
    .filter((f) => f.endsWith('.sh'))
    .map((f) => join(MAC_DIR, 'ops', f));
  return [...top, ...ops].sort();
}

describe('src/mac scripts', () => {
  it('the installed set and every operation exist', () => {
    const names = scriptFiles().map((f) => f.slice(MAC_DIR.length + 1));
    for (const f of INSTALLED_SET) assert.ok(names.includes(f), `missing ${f}`);
    for (const op of OPS) assert.ok(names.includes(`ops/${op}.sh`), `missing ops/${op}.sh`);
  });

  it('every script is shellcheck-clean', () => {
    const r = shellcheck(['-x', '-s', 'bash', ...scriptFiles()]);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });

  it('every operation, as sent (paths.sh + lib.sh + op), is shellcheck-clean', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-ops-'));
    try {
      const files = OPS.map((op) => {
        const f = join(dir, `${op}.sent.sh`);
        writeFileSync(f, opScript(op));
        return f;
      });
      const r = shellcheck(['-s', 'bash', ...files]);
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has no bash >= 4 constructs (test/mac/bash32-check.sh)', () => {
    const r = spawnSync('bash', [BASH32_CHECK, MAC_DIR], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });

  it('the bash-3.2 check catches each construct it lists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-bash32-'));
    try {
      const samples = [
        'declare -A map',
        'local -n ref=x',
        'mapfile -t lines <f',
        'readarray lines',
        'echo "${x,,}"',
        'echo "${x^^}"',
        'echo "${a[-1]}"',
        'cmd &>>log',
        'cmd |& cat',
        'coproc cat',
        'echo "$EPOCHSECONDS"',
        'echo "$EPOCHREALTIME"',
        'wait -n',
        'echo "${x@Q}"',
        'exec {fd}>file',
      ];
      for (const [i, sample] of samples.entries()) {
        const f = join(dir, `s${i}.sh`);
        writeFileSync(f, `#!/bin/bash\n# mapfile in a comment is fine\n${sample}\n`);
        const r = spawnSync('bash', [BASH32_CHECK, f], { encoding: 'utf8' });
        assert.equal(r.status, 1, `not caught: ${sample}\n${r.stdout}${r.stderr}`);
        assert.match(r.stdout, /:3: /, `reported on the wrong line: ${r.stdout}`);
      }
      const clean = join(dir, 'clean.sh');
      writeFileSync(
        clean,
        '#!/bin/bash\n# mapfile, ${x,,} and |& in comments only\necho "${#a[@]}" "${a[@]+"${a[@]}"}"\n',
      );
      const r = spawnSync('bash', [BASH32_CHECK, clean], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('carries the protocol markers', () => {
    assert.match(readFileSync(join(MAC_DIR, 'paths.sh'), 'utf8'), /^# pw-pool-protocol: 1$/m);
    for (const op of OPS) {
      const text = opScript(op);
      const markers = [...text.matchAll(/^# pw-pool-op: ([a-z-]+)$/gm)].map((m) => m[1]);
      assert.deepEqual(markers, [op]);
    }
  });

  it('names absolute paths and the metadata URL only in paths.sh', () => {
    // Allowed elsewhere: the timer command PROTOCOL.md spells out, shebangs, and ci_env.sh's
    // documented fallback to the installed directory (its copies have no paths.sh beside them).
    const allowed = [
      /^#!\/bin\/bash$/,
      /sleep "\$1" && exec \/bin\/bash "\$2" "\$3" "\$4"/,
      /PW_LIB_DIR="\$\{PW_POOL_ROOT:-\}\/usr\/local\/libexec\/pw-pool"/,
    ];
    const absolute =
      /(^|[\s"'=])\/(usr|bin|sbin|Users|private|tmp|opt|etc|Library|var|System)\b|169\.254|instance-data/;
    for (const file of scriptFiles()) {
      if (file.endsWith('/paths.sh')) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/^\s*#/.test(line) && !line.startsWith('#!')) return;
          if (!absolute.test(line) || allowed.some((a) => a.test(line))) return;
          assert.fail(`${file}:${i + 1} names an absolute path: ${line}`);
        });
    }
  });
});

describe('sandbox stand-ins', () => {
  it('are shellcheck-clean (warnings and errors)', () => {
    const files = readdirSync(STAND_INS)
      .filter((f) => f.endsWith('.sh'))
      .map((f) => join(STAND_INS, f));
    const r = shellcheck(['-S', 'warning', '-s', 'bash', ...files]);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });
});
