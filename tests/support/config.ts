/**
 * A container config for tests that never start one (validations, recorded
 * steps, value conversions): the required fields with harmless values, and
 * whatever the test is about on top.
 */
import type { ContainerConfig } from '../../src/core/config.js';

export function testConfig<O extends object = object>(over?: O): ContainerConfig & O {
  return { id: 'cb-unit', rootfs: '/', argv: ['true'], env: [], cwd: '/', tty: false, ...over } as ContainerConfig & O;
}
