// The SFTP subsystem of a simulated Mac, enough for the manager's uploads (PROTOCOL.md
// "Uploads"): OPEN/READ/WRITE/CLOSE, STAT/LSTAT/FSTAT, SETSTAT/FSETSTAT, MKDIR/RMDIR, REMOVE,
// RENAME, REALPATH and OPENDIR/READDIR, as ec2-user, with paths relative to /Users/ec2-user and
// OpenSSH's sftp-server umask (022). Ownership and modes are checked as a Unix kernel would.

import { posix } from 'node:path';
import ssh2, { type Attributes, type FileEntry, type SFTPWrapper } from 'ssh2';
import { MacFileSystem, type FsNode } from './filesystem.js';
import type { SimMac } from './mac.js';

const { OPEN_MODE, STATUS_CODE } = ssh2.utils.sftp;
const USER = 'ec2-user';
const UMASK = 0o022;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const GIDS: Readonly<Record<string, number>> = { wheel: 0, staff: 20, admin: 80 };

interface OpenFile {
  kind: 'file';
  path: string;
  node: FsNode;
  written: number;
}

interface OpenDir {
  kind: 'dir';
  path: string;
  sent: boolean;
}

/** Serves one SFTP session for `mac` until the channel closes. */
export function serveSftp(sftp: SFTPWrapper, mac: SimMac): void {
  const handles = new Map<string, OpenFile | OpenDir>();
  let nextHandle = 1;
  const newHandle = (entry: OpenFile | OpenDir): Buffer => {
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(nextHandle++);
    handles.set(buf.toString('hex'), entry);
    return buf;
  };
  const fs = mac.fs;
  const uidOf = (user: string): number =>
    user === 'root' ? 0 : user === USER ? 501 : 502 + (hashName(user) % 400);
  const attrsOf = (node: FsNode): Attributes => ({
    mode: (node.type === 'dir' ? S_IFDIR : S_IFREG) | node.mode,
    uid: uidOf(node.owner),
    gid: GIDS[node.group] ?? 20,
    size: node.type === 'dir' ? 64 : node.size,
    atime: Math.floor(node.mtimeMs / 1000),
    mtime: Math.floor(node.mtimeMs / 1000),
  });
  const fail = (reqid: number, code: number, message: string): void => {
    sftp.status(reqid, code, message);
  };

  sftp.on('OPEN', (reqid, filename, flags, attrs) => {
    const now = mac.nowMs();
    const path = MacFileSystem.resolve(filename);
    const write = (flags & (OPEN_MODE.WRITE | OPEN_MODE.APPEND)) !== 0;
    const read = (flags & OPEN_MODE.READ) !== 0;
    let node = fs.get(path);
    if (node?.type === 'dir') return fail(reqid, STATUS_CODE.FAILURE, 'Is a directory');
    if (node === undefined) {
      if ((flags & OPEN_MODE.CREAT) === 0)
        return fail(reqid, STATUS_CODE.NO_SUCH_FILE, 'No such file');
      const parent = fs.get(posix.dirname(path));
      if (parent?.type !== 'dir') return fail(reqid, STATUS_CODE.NO_SUCH_FILE, 'No such file');
      if (!allowed(parent, 0o2))
        return fail(reqid, STATUS_CODE.PERMISSION_DENIED, 'Permission denied');
      const requested = typeof attrs.mode === 'number' ? attrs.mode : 0o644;
      node = fs.createFile(
        path,
        { mode: requested & 0o777 & ~UMASK, owner: USER, group: 'staff' },
        now,
      );
    } else {
      if ((flags & OPEN_MODE.CREAT) !== 0 && (flags & OPEN_MODE.EXCL) !== 0) {
        return fail(reqid, STATUS_CODE.FAILURE, 'File exists');
      }
      if ((write && !allowed(node, 0o2)) || (read && !allowed(node, 0o4))) {
        return fail(reqid, STATUS_CODE.PERMISSION_DENIED, 'Permission denied');
      }
      if (write && (flags & OPEN_MODE.TRUNC) !== 0) fs.truncate(node, now);
    }
    mac.recordSftp({
      request: 'OPEN',
      path,
      detail: ssh2.utils.sftp.flagsToString(flags) ?? String(flags),
    });
    sftp.handle(reqid, newHandle({ kind: 'file', path, node, written: 0 }));
  });

  sftp.on('WRITE', (reqid, handle, offset, data) => {
    const h = handles.get(handle.toString('hex'));
    if (h?.kind !== 'file') return fail(reqid, STATUS_CODE.FAILURE, 'Bad handle');
    fs.writeAt(h.node, offset, data, mac.nowMs());
    h.written += data.length;
    sftp.status(reqid, STATUS_CODE.OK);
  });

  sftp.on('READ', (reqid, handle, offset, length) => {
    const h = handles.get(handle.toString('hex'));
    if (h?.kind !== 'file') return fail(reqid, STATUS_CODE.FAILURE, 'Bad handle');
    if (h.node.sensitive === true) {
      return fail(reqid, STATUS_CODE.FAILURE, 'content not kept by the simulator');
    }
    const content = h.node.bytes ?? Buffer.from(h.node.text ?? '', 'utf8');
    if (offset >= content.length) return sftp.status(reqid, STATUS_CODE.EOF);
    sftp.data(reqid, content.subarray(offset, Math.min(content.length, offset + length)));
  });

  sftp.on('CLOSE', (reqid, handle) => {
    const key = handle.toString('hex');
    const h = handles.get(key);
    if (h === undefined) return fail(reqid, STATUS_CODE.FAILURE, 'Bad handle');
    handles.delete(key);
    if (h.kind === 'file' && h.written > 0) {
      mac.recordSftp({ request: 'CLOSE', path: h.path, detail: `wrote ${h.written} bytes` });
    }
    sftp.status(reqid, STATUS_CODE.OK);
  });

  const stat = (reqid: number, path: string): void => {
    const node = fs.get(path);
    if (node === undefined) return fail(reqid, STATUS_CODE.NO_SUCH_FILE, 'No such file');
    sftp.attrs(reqid, attrsOf(node));
  };
  sftp.on('STAT', stat);
  sftp.on('LSTAT', stat);
  sftp.on('FSTAT', (reqid, handle) => {
    const h = handles.get(handle.toString('hex'));
    if (h === undefined) return fail(reqid, STATUS_CODE.FAILURE, 'Bad handle');
    const node = h.kind === 'file' ? h.node : fs.get(h.path);
    if (node === undefined) return fail(reqid, STATUS_CODE.NO_SUCH_FILE, 'No such file');
    sftp.attrs(reqid, attrsOf(node));
  });

  const setstat = (
    reqid: number,
    path: string,
    node: FsNode | undefined,
    attrs: Attributes,
  ): void => {
    if (node === undefined) return fail(reqid, STATUS_CODE.NO_SUCH_FILE, 'No such file');
    const now = mac.nowMs();
    if (typeof attrs.mode === 'number') {
      if (node.owner !== USER)
        return fail(reqid, STATUS_CODE.PERMISSION_DENIED, 'Operation not permitted');
      node.mode = attrs.mode & 0o7777;
    }
    if (typeof attrs.size === 'number' && node.type === 'file') {
      if (!allowed(node, 0o2))
        return fail(reqid, STATUS_CODE.PERMISSION_DENIED, 'Permission denied');
      const content = node.bytes ?? Buffer.from(node.text ?? '', 'utf8');
      const resized = Buffer.alloc(attrs.size);
      content.copy(resized, 0, 0, Math.min(content.length, attrs.size));
      fs.truncate(node, now);
      fs.writeAt(node, 0, resized, now);
    }
    if (typeof attrs.mtime === 'number') node.mtimeMs = attrs.mtime * 1000;
    mac.recordSftp({
      request: 'SETSTAT',
      path,
      detail:
        typeof attrs.mode === 'number'
          ? `mode ${(attrs.mode & 0o7777).toString(8).padStart(4, '0')}`
          : 'attrs',
    });
    sftp.status(reqid, STATUS_CODE.OK);
  };
  sftp.on('SETSTAT', (reqid, filename, attrs) => {
    const path = MacFileSystem.resolve(filename);
    setstat(reqid, path, fs.get(path), attrs);
  });
  sftp.on('FSETSTAT', (reqid, handle, attrs) => {
    const h = handles.get(handle.toString('hex'));
    if (h === undefined) return fail(reqid, STATUS_CODE.FAILURE, 'Bad handle');
    setstat(reqid, h.path, h.kind === 'file' ? h.node : fs.get(h.path), attrs);
  });

  sftp.on('MKDIR', (reqid, dirname, attrs) => {
    const path = MacFileSystem.resolve(dirname);
    if (fs.get(path) !== undefined) return fail(reqid, STATUS_CODE.FAILURE, 'File exists');
    const parent = fs.get(posix.dirname(path));
    if (parent?.type !== 'dir') return fail(reqid, STATUS_CODE.NO_SUCH_FILE, 'No such file');
    if (!allowed(parent, 0o2))
      return fail(reqid, STATUS_CODE.PERMISSION_DENIED, 'Permission denied');
    const requested = typeof attrs.mode === 'number' ? attrs.mode : 0o777;
    const mode = requested & 0o777 & ~UMASK;
    fs.mkdirp(path, { mode, owner: USER, group: 'staff' }, mac.nowMs());
    mac.recordSftp({ request: 'MKDIR', path, detail: `mode ${mode.toString(8).padStart(4, '0')}` });
    sftp.status(reqid, STATUS_CODE.OK);
  });

  const removeEntry = (reqid: number, filename: string, type: 'file' | 'dir'): void => {
    const path = MacFileSystem.resolve(filename);
    const node = fs.get(path);
    if (node === undefined) return fail(reqid, STATUS_CODE.NO_SUCH_FILE, 'No such file');
    if (node.type !== type)
      return fail(
        reqid,
        STATUS_CODE.FAILURE,
        type === 'dir' ? 'Not a directory' : 'Is a directory',
      );
    const parent = fs.get(posix.dirname(path));
    if (parent === undefined || !allowed(parent, 0o2)) {
      return fail(reqid, STATUS_CODE.PERMISSION_DENIED, 'Permission denied');
    }
    if (!fs.remove(path)) return fail(reqid, STATUS_CODE.FAILURE, 'Directory not empty');
    mac.recordSftp({ request: type === 'dir' ? 'RMDIR' : 'REMOVE', path });
    sftp.status(reqid, STATUS_CODE.OK);
  };
  sftp.on('REMOVE', (reqid, filename) => removeEntry(reqid, filename, 'file'));
  sftp.on('RMDIR', (reqid, filename) => removeEntry(reqid, filename, 'dir'));

  sftp.on('RENAME', (reqid, oldPath, newPath) => {
    const from = MacFileSystem.resolve(oldPath);
    const to = MacFileSystem.resolve(newPath);
    const fromParent = fs.get(posix.dirname(from));
    const toParent = fs.get(posix.dirname(to));
    if (fs.get(from) === undefined) return fail(reqid, STATUS_CODE.NO_SUCH_FILE, 'No such file');
    if (toParent?.type !== 'dir') return fail(reqid, STATUS_CODE.NO_SUCH_FILE, 'No such file');
    if (fs.get(to) !== undefined) return fail(reqid, STATUS_CODE.FAILURE, 'File exists');
    if (fromParent === undefined || !allowed(fromParent, 0o2) || !allowed(toParent, 0o2)) {
      return fail(reqid, STATUS_CODE.PERMISSION_DENIED, 'Permission denied');
    }
    fs.rename(from, to);
    mac.recordSftp({ request: 'RENAME', path: from, detail: to });
    sftp.status(reqid, STATUS_CODE.OK);
  });

  sftp.on('REALPATH', (reqid, path) => {
    const abs = MacFileSystem.resolve(path === '' ? '.' : path);
    const node = fs.get(abs);
    const entry: FileEntry = {
      filename: abs,
      longname: abs,
      attrs: node === undefined ? ({} as Attributes) : attrsOf(node),
    };
    sftp.name(reqid, [entry]);
  });

  sftp.on('OPENDIR', (reqid, path) => {
    const abs = MacFileSystem.resolve(path);
    const node = fs.get(abs);
    if (node === undefined) return fail(reqid, STATUS_CODE.NO_SUCH_FILE, 'No such file');
    if (node.type !== 'dir') return fail(reqid, STATUS_CODE.FAILURE, 'Not a directory');
    if (!allowed(node, 0o4)) return fail(reqid, STATUS_CODE.PERMISSION_DENIED, 'Permission denied');
    sftp.handle(reqid, newHandle({ kind: 'dir', path: abs, sent: false }));
  });

  sftp.on('READDIR', (reqid, handle) => {
    const h = handles.get(handle.toString('hex'));
    if (h?.kind !== 'dir') return fail(reqid, STATUS_CODE.FAILURE, 'Bad handle');
    if (h.sent) return sftp.status(reqid, STATUS_CODE.EOF);
    h.sent = true;
    const entries: FileEntry[] = [];
    for (const name of fs.children(h.path)) {
      const node = fs.get(`${h.path === '/' ? '' : h.path}/${name}`);
      if (node !== undefined)
        entries.push({ filename: name, longname: name, attrs: attrsOf(node) });
    }
    if (entries.length === 0) return sftp.status(reqid, STATUS_CODE.EOF);
    sftp.name(reqid, entries);
  });
}

/** Whether ec2-user (groups staff, admin) has `bit` (4 read, 2 write) on `node`. */
function allowed(node: FsNode, bit: number): boolean {
  if (node.owner === USER) return (node.mode & (bit << 6)) !== 0;
  if (node.group === 'staff' || node.group === 'admin') return (node.mode & (bit << 3)) !== 0;
  return (node.mode & bit) !== 0;
}

function hashName(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return h;
}
