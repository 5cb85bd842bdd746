// The simulated Macs of a simulated cloud: one SimMac per instance, created when the world
// announces the instance, powered while it runs (SSH from its sshReadyAt), powered off when it
// stops or shuts down, dropped when the instance disappears. Every Mac listens on its own loopback
// address and the one shared port; the fleet holds that port on 127.0.0.1 for its whole life so
// no other simulated cloud picks it.

import { createServer, type Server as NetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { FaultInjector } from '../faults.js';
import type { InstanceView, SimEvent } from '../model.js';
import type { SimWorld } from '../world.js';
import { SimMac, type MacGitHubLink, type MacView } from './mac.js';
import { DEFAULT_MAC_SETTINGS, checkMacSettingsPatch, type MacSettings } from './settings.js';
import { MacEndpoint, type EndpointView } from './ssh-endpoint.js';

export interface SimMacFleetOptions {
  world: SimWorld;
  faults: FaultInjector;
  /** 0 / undefined = a free port. */
  sshPort?: number | undefined;
  settings?: Partial<MacSettings> | undefined;
  seed?: number | undefined;
  /** The fake GitHub the github-actions runners register with (startSimCloud's `github`). */
  github?: MacGitHubLink | undefined;
}

/** A Mac as the control API shows it: the model plus its SSH endpoint. */
export interface MacStateView extends MacView {
  sshPort: number;
  /** Something listens on address:sshPort (the Mac is up and no listen error). */
  reachable: boolean;
  ssh: EndpointView;
}

export class SimMacFleet {
  readonly world: SimWorld;
  readonly faults: FaultInjector;
  /** The fake GitHub the Macs' github-actions runners use, if any. */
  readonly github: MacGitHubLink | undefined;
  readonly #macs = new Map<string, { mac: SimMac; endpoint: MacEndpoint }>();
  readonly #pending = new Set<Promise<void>>();
  readonly #seed: number;
  readonly #unsubscribe: (() => void)[] = [];
  #settings: MacSettings;
  #sshPort = 0;
  #reservation: NetServer | undefined;
  #closed = false;

  private constructor(options: SimMacFleetOptions) {
    this.world = options.world;
    this.faults = options.faults;
    this.github = options.github;
    this.#seed = options.seed ?? 1;
    this.#settings = { ...DEFAULT_MAC_SETTINGS, ...checkMacSettingsPatch(options.settings ?? {}) };
  }

  /** Reserves the SSH port and starts following the world. */
  static async start(options: SimMacFleetOptions): Promise<SimMacFleet> {
    const fleet = new SimMacFleet(options);
    const reservation = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      reservation.once('error', reject);
      reservation.listen(options.sshPort ?? 0, '127.0.0.1', () => {
        reservation.off('error', reject);
        resolve();
      });
    });
    fleet.#reservation = reservation;
    fleet.#sshPort = (reservation.address() as AddressInfo).port;
    fleet.#unsubscribe.push(
      fleet.world.subscribe((event) => fleet.#onEvent(event)),
      fleet.faults.onChange(() => fleet.#onFaultsChanged()),
    );
    for (const instance of fleet.world.instances()) fleet.#follow(instance);
    return fleet;
  }

  get sshPort(): number {
    return this.#sshPort;
  }

  get settings(): MacSettings {
    return { ...this.#settings };
  }

  /** Changes fleet-wide settings (boot delays are world timings: bootMinS, bootMaxS). */
  configure(patch: unknown): MacSettings {
    this.#settings = { ...this.#settings, ...checkMacSettingsPatch(patch) };
    return this.settings;
  }

  /** Per-Mac overrides of the fleet settings. */
  configureMac(ref: string, patch: unknown): MacStateView | undefined {
    const entry = this.#find(ref);
    if (entry === undefined) return undefined;
    entry.mac.overrides = { ...entry.mac.overrides, ...checkMacSettingsPatch(patch) };
    return this.#view(entry);
  }

  /** The Mac of an instance id or Name tag (a live instance wins over terminated namesakes). */
  mac(ref: string): SimMac | undefined {
    return this.#find(ref)?.mac;
  }

  macState(ref: string): MacStateView | undefined {
    this.world.sync();
    const entry = this.#find(ref);
    return entry === undefined ? undefined : this.#view(entry);
  }

  list(): MacStateView[] {
    this.world.sync();
    return [...this.#macs.values()].map((e) => this.#view(e));
  }

  /** Brings every Mac in line with the world now (after scripted changes such as sshReadyAt). */
  reconcile(): void {
    if (this.#closed) return;
    for (const instance of this.world.instances()) this.#follow(instance);
  }

  /** Resolves once every listener the Macs want is open and every unwanted one closed. */
  async settled(): Promise<void> {
    this.world.sync();
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const off of this.#unsubscribe) off();
    await Promise.all([...this.#macs.values()].map((e) => e.endpoint.close()));
    await this.settled();
    const reservation = this.#reservation;
    this.#reservation = undefined;
    if (reservation !== undefined) await new Promise<void>((r) => reservation.close(() => r()));
  }

  #onEvent(event: SimEvent): void {
    if (this.#closed) return;
    switch (event.type) {
      case 'instance-state':
        // Act on the current instance: a long advance delivers a whole history at once.
        this.#follow(this.world.instance(event.instance.instanceId) ?? event.instance);
        break;
      case 'instance-removed': {
        const entry = this.#macs.get(event.instanceId);
        if (entry !== undefined) {
          this.#macs.delete(event.instanceId);
          entry.mac.powerOff();
          this.#track(entry.endpoint.close());
        }
        break;
      }
      case 'tags-changed': {
        const entry = this.#macs.get(event.resourceId);
        if (entry !== undefined) entry.mac.configChanged(this.world.sync().getTime());
        break;
      }
      case 'host-state':
      case 'host-removed':
        break;
    }
  }

  #onFaultsChanged(): void {
    if (this.#closed) return;
    const now = this.world.sync().getTime();
    for (const { mac } of this.#macs.values()) mac.applyFaults(now);
  }

  #follow(instance: InstanceView): void {
    let entry = this.#macs.get(instance.instanceId);
    if (entry === undefined) {
      if (instance.state === 'terminated') return;
      const mac: SimMac = new SimMac(
        {
          world: this.world,
          faults: this.faults,
          github: this.github,
          settings: () => ({ ...this.#settings, ...mac.overrides }),
          powerChanged: (m) => this.#powerChanged(m),
          rotateHostKey: (m) => this.#macs.get(m.instanceId)?.endpoint.rotateHostKey(),
        },
        instance,
        this.#seed,
      );
      entry = { mac, endpoint: new MacEndpoint(mac, this.faults, this.#sshPort) };
      this.#macs.set(instance.instanceId, entry);
    }
    entry.mac.follow(instance);
  }

  #powerChanged(mac: SimMac): void {
    const entry = this.#macs.get(mac.instanceId);
    if (entry === undefined || this.#closed) return;
    this.#track(entry.endpoint.setListening(mac.power === 'on'));
  }

  #track(promise: Promise<void>): void {
    const tracked = promise.finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  #find(ref: string): { mac: SimMac; endpoint: MacEndpoint } | undefined {
    const byId = this.#macs.get(ref);
    if (byId !== undefined) return byId;
    const instance = this.world.instance(ref);
    return instance === undefined ? undefined : this.#macs.get(instance.instanceId);
  }

  #view(entry: { mac: SimMac; endpoint: MacEndpoint }): MacStateView {
    const ssh = entry.endpoint.view();
    return {
      ...entry.mac.view({ ...this.#settings, ...entry.mac.overrides }),
      sshPort: this.#sshPort,
      reachable: entry.mac.power === 'on' && ssh.listening,
      ssh,
    };
  }
}
