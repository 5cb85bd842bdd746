// The default pool the simulated cloud starts with: hosts `MacM1-1..n` (tagged like a production
// pool, allocated long ago) and the two launch templates pw-pool's agents use.

import type { HostView } from './model.js';
import type { SimWorld } from './world.js';

export const DEFAULT_NAME_PREFIX = 'MacM1';
export const DEFAULT_LAUNCH_TEMPLATE_NAMES = ['CirrusMacM1PWinstance', 'GHAMacM1Runner'] as const;

/** pw-pool's default template names for a prefix: `Cirrus<prefix>PWinstance`, `GHA<prefix>Runner`. */
export function launchTemplateNames(prefix: string): [cirrus: string, githubActions: string] {
  return [`Cirrus${prefix}PWinstance`, `GHA${prefix}Runner`];
}
/** Default hosts were allocated this long before the simulation starts (past the 24 h minimum). */
export const DEFAULT_HOST_AGE_S = 30 * 24 * 60 * 60;

export interface DefaultWorldOptions {
  /** Number of hosts, named `<prefix>-1` .. `<prefix>-<n>`. */
  hosts: number;
  namePrefix?: string | undefined;
  purposeTagKey?: string | undefined;
  purposeValue?: string | undefined;
}

/**
 * Adds the default hosts (`Name=<prefix>-<n>`, `<purposeTagKey>=<purposeValue>`, `PWPoolReady=true`,
 * `automation=false`) and the prefix's two launch templates (mac2.metal, shutdown behaviour
 * terminate, IMDSv2 required, instance tags in metadata) to `world`; returns the hosts in order.
 */
export function populateDefaultWorld(world: SimWorld, options: DefaultWorldOptions): HostView[] {
  if (!Number.isInteger(options.hosts) || options.hosts < 0) {
    throw new RangeError(`hosts must be an integer >= 0, got ${options.hosts}`);
  }
  const prefix = options.namePrefix ?? DEFAULT_NAME_PREFIX;
  const allocationTime = new Date(world.sync().getTime() - DEFAULT_HOST_AGE_S * 1000);
  for (const name of launchTemplateNames(prefix)) {
    world.putLaunchTemplate({
      name,
      description: 'pw-pool Mac instance',
      data: {
        instanceType: 'mac2.metal',
        instanceInitiatedShutdownBehavior: 'terminate',
        metadataOptions: { httpTokens: 'required', instanceMetadataTags: 'enabled' },
      },
    });
  }
  const hosts: HostView[] = [];
  for (let n = 1; n <= options.hosts; n++) {
    hosts.push(
      world.addHost({
        allocationTime,
        tags: {
          Name: `${prefix}-${n}`,
          [options.purposeTagKey ?? 'purpose']: options.purposeValue ?? 'prod',
          PWPoolReady: 'true',
          automation: 'false',
        },
      }),
    );
  }
  return hosts;
}
