/**
 * One device cgroup rule, on its own so that the config (core/config.ts) can
 * carry a list without importing the cgroup code (devices.ts applies them).
 */

/** One rule as Docker and runc write it: type a/c/b, major and minor (or '*'), access from "rwm". */
export interface DeviceRule {
  type: 'a' | 'c' | 'b';
  major: number | '*';
  minor: number | '*';
  access: string;
}
