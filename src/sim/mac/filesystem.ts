// The simulated Mac's disk: a tree of files and directories with owners, modes, inodes and mtimes
// (virtual time). Text the model writes is kept as text; uploads as bytes. A file marked
// `sensitive` (the CI secret, an agent config holding a token) keeps only its size: its content
// is never stored, so it can never leak through the control API.

import { posix } from 'node:path';

export const EC2_HOME = '/Users/ec2-user';

export type FileType = 'file' | 'dir';

export interface FsNode {
  type: FileType;
  /** Permission bits (and sticky/setgid bits), without the file-type bits. */
  mode: number;
  owner: string;
  group: string;
  inode: number;
  mtimeMs: number;
  /** Text content (files the model writes). */
  text?: string;
  /** Byte content (uploads). */
  bytes?: Buffer;
  /** Size in bytes (kept up to date for every file, also for sensitive ones). */
  size: number;
  /** Content withheld on purpose: only the size is known. */
  sensitive?: boolean;
}

export interface FileView {
  type: FileType;
  /** Octal permission bits, e.g. "0700". */
  mode: string;
  owner: string;
  group: string;
  size: number;
  inode: number;
  mtime: Date;
}

export interface NodeOwnership {
  mode: number;
  owner: string;
  group: string;
}

export class MacFileSystem {
  readonly #nodes = new Map<string, FsNode>();
  #nextInode: number;

  constructor(firstInode: number, nowMs: number) {
    this.#nextInode = firstInode;
    const dirs: [string, number, string, string][] = [
      ['/', 0o755, 'root', 'wheel'],
      ['/Users', 0o755, 'root', 'admin'],
      [EC2_HOME, 0o750, 'ec2-user', 'staff'],
      ['/usr', 0o755, 'root', 'wheel'],
      ['/usr/local', 0o755, 'root', 'wheel'],
      ['/usr/local/libexec', 0o755, 'root', 'wheel'],
      ['/opt', 0o755, 'root', 'wheel'],
      ['/private', 0o755, 'root', 'wheel'],
      ['/private/tmp', 0o1777, 'root', 'wheel'],
    ];
    for (const [path, mode, owner, group] of dirs) {
      this.#nodes.set(path, this.#node('dir', { mode, owner, group }, nowMs));
    }
  }

  /** An absolute, normalised path; relative paths are taken from ec2-user's home (as sshd does). */
  static resolve(path: string): string {
    const abs = path.startsWith('/') ? path : posix.join(EC2_HOME, path);
    const normal = posix.normalize(abs);
    return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
  }

  get(path: string): FsNode | undefined {
    return this.#nodes.get(MacFileSystem.resolve(path));
  }

  isFile(path: string): boolean {
    return this.get(path)?.type === 'file';
  }

  isDir(path: string): boolean {
    return this.get(path)?.type === 'dir';
  }

  /** Whole text of a file the model wrote or that was uploaded (undefined for sensitive files). */
  readText(path: string): string | undefined {
    const node = this.get(path);
    if (node === undefined || node.type !== 'file' || node.sensitive === true) return undefined;
    return node.text ?? node.bytes?.toString('utf8') ?? '';
  }

  /** Creates a directory (and missing parents with the same ownership); keeps an existing one. */
  mkdirp(path: string, own: NodeOwnership, nowMs: number): FsNode {
    const abs = MacFileSystem.resolve(path);
    const existing = this.#nodes.get(abs);
    if (existing !== undefined) return existing;
    const parent = posix.dirname(abs);
    if (parent !== abs && !this.#nodes.has(parent)) this.mkdirp(parent, own, nowMs);
    const node = this.#node('dir', own, nowMs);
    this.#nodes.set(abs, node);
    return node;
  }

  /** Writes (creates or replaces the content of) a text file; a new file gets `own`. */
  writeText(path: string, text: string, own: NodeOwnership, nowMs: number): FsNode {
    const node = this.#fileForWrite(path, own, nowMs);
    node.text = text;
    delete node.bytes;
    delete node.sensitive;
    node.size = Buffer.byteLength(text);
    node.mtimeMs = nowMs;
    return node;
  }

  /** Appends text, creating the file with `own` if needed (the inode stays the same). */
  appendText(path: string, text: string, own: NodeOwnership, nowMs: number): FsNode {
    const node = this.#fileForWrite(path, own, nowMs);
    if (node.sensitive === true) return node;
    if (node.bytes !== undefined) {
      node.text = node.bytes.toString('utf8');
      delete node.bytes;
    }
    node.text = (node.text ?? '') + text;
    node.size += Buffer.byteLength(text);
    node.mtimeMs = nowMs;
    return node;
  }

  /** A file whose content is withheld: only its size is recorded. */
  writeSensitive(path: string, size: number, own: NodeOwnership, nowMs: number): FsNode {
    const node = this.#fileForWrite(path, own, nowMs);
    delete node.text;
    delete node.bytes;
    node.sensitive = true;
    node.size = size;
    node.mtimeMs = nowMs;
    return node;
  }

  writeBytes(path: string, bytes: Buffer, own: NodeOwnership, nowMs: number): FsNode {
    const node = this.#fileForWrite(path, own, nowMs);
    node.bytes = Buffer.from(bytes);
    delete node.text;
    delete node.sensitive;
    node.size = bytes.length;
    node.mtimeMs = nowMs;
    return node;
  }

  /** An empty file created for writing (SFTP OPEN with CREAT). */
  createFile(path: string, own: NodeOwnership, nowMs: number): FsNode {
    return this.writeBytes(path, Buffer.alloc(0), own, nowMs);
  }

  /** Writes `data` at `offset` into an uploaded file, growing it as needed. */
  writeAt(node: FsNode, offset: number, data: Buffer, nowMs: number): void {
    const current = node.bytes ?? Buffer.from(node.text ?? '', 'utf8');
    const size = Math.max(current.length, offset + data.length);
    const next = Buffer.alloc(size);
    current.copy(next);
    data.copy(next, offset);
    node.bytes = next;
    delete node.text;
    delete node.sensitive;
    node.size = size;
    node.mtimeMs = nowMs;
  }

  truncate(node: FsNode, nowMs: number): void {
    node.bytes = Buffer.alloc(0);
    delete node.text;
    delete node.sensitive;
    node.size = 0;
    node.mtimeMs = nowMs;
  }

  /** Copies a file's content to `to` (a new inode, as `install` + rename gives). */
  copy(from: string, to: string, own: NodeOwnership, nowMs: number): FsNode | undefined {
    const src = this.get(from);
    if (src === undefined || src.type !== 'file') return undefined;
    this.remove(to);
    const node = src.sensitive
      ? this.writeSensitive(to, src.size, own, nowMs)
      : src.bytes !== undefined
        ? this.writeBytes(to, src.bytes, own, nowMs)
        : this.writeText(to, src.text ?? '', own, nowMs);
    node.mode = own.mode;
    return node;
  }

  /** Removes a file or an empty directory; false when absent (or a non-empty directory). */
  remove(path: string): boolean {
    const abs = MacFileSystem.resolve(path);
    const node = this.#nodes.get(abs);
    if (node === undefined) return false;
    if (node.type === 'dir' && this.children(abs).length > 0) return false;
    this.#nodes.delete(abs);
    return true;
  }

  /** Removes a path and everything under it. */
  removeTree(path: string): void {
    const abs = MacFileSystem.resolve(path);
    for (const key of [...this.#nodes.keys()]) {
      if (key === abs || key.startsWith(`${abs}/`)) this.#nodes.delete(key);
    }
  }

  rename(from: string, to: string): boolean {
    const src = MacFileSystem.resolve(from);
    const dst = MacFileSystem.resolve(to);
    const node = this.#nodes.get(src);
    if (node === undefined || !this.#nodes.has(posix.dirname(dst))) return false;
    for (const key of [...this.#nodes.keys()]) {
      if (key === src || key.startsWith(`${src}/`)) {
        const moved = this.#nodes.get(key) as FsNode;
        this.#nodes.delete(key);
        this.#nodes.set(dst + key.slice(src.length), moved);
      }
    }
    return true;
  }

  /** Names directly inside a directory, sorted. */
  children(path: string): string[] {
    const abs = MacFileSystem.resolve(path);
    const prefix = abs === '/' ? '/' : `${abs}/`;
    const out: string[] = [];
    for (const key of this.#nodes.keys()) {
      if (key !== abs && key.startsWith(prefix) && !key.slice(prefix.length).includes('/')) {
        out.push(key.slice(prefix.length));
      }
    }
    return out.sort();
  }

  /** Every path with its metadata, sorted (content is never part of the view). */
  view(): Record<string, FileView> {
    const out: Record<string, FileView> = {};
    for (const path of [...this.#nodes.keys()].sort()) {
      const n = this.#nodes.get(path) as FsNode;
      out[path] = {
        type: n.type,
        mode: n.mode.toString(8).padStart(4, '0'),
        owner: n.owner,
        group: n.group,
        size: n.type === 'dir' ? 64 + 32 * this.children(path).length : n.size,
        inode: n.inode,
        mtime: new Date(n.mtimeMs),
      };
    }
    return out;
  }

  #fileForWrite(path: string, own: NodeOwnership, nowMs: number): FsNode {
    const abs = MacFileSystem.resolve(path);
    const existing = this.#nodes.get(abs);
    if (existing !== undefined && existing.type === 'file') return existing;
    if (existing !== undefined) throw new Error(`${abs} is a directory`);
    const node = this.#node('file', own, nowMs);
    this.#nodes.set(abs, node);
    return node;
  }

  #node(type: FileType, own: NodeOwnership, nowMs: number): FsNode {
    return {
      type,
      mode: own.mode,
      owner: own.owner,
      group: own.group,
      inode: this.#nextInode++,
      mtimeMs: nowMs,
      size: 0,
    };
  }
}
