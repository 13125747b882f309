/**
 * Whose is a new item after a trial (src/workshop/harness.ts)? A leak check
 * must blame a run for its own leftovers only — never for another container's,
 * running or not (a `run --keep` or a killed run in another terminal) — and
 * leave what containers share to the last one running.
 */
import { expect } from 'chai';
import type { InventoryItem } from '../../src/core/inventory.js';
import { anotherContainers } from '../../src/workshop/harness.js';

const item = (over: Partial<InventoryItem>): InventoryItem => ({
  area: 'x',
  kind: 'dir',
  name: 'n',
  why: 'w',
  ...over,
});
const none = new Map<string, string>();
const someRunning = new Map([['cb-other', 'container cb-other is running']]);

describe('leak attribution after a trial', function () {
  it("an item of this run's own container is its leak", function () {
    expect(anotherContainers(item({ containerId: 'cb-me' }), 'cb-me', none)).to.equal(false);
    expect(anotherContainers(item({ containerId: 'cb-me' }), 'cb-me', someRunning)).to.equal(false);
  });
  it("another container's item is never this run's leak, whether that container runs or not", function () {
    expect(anotherContainers(item({ containerId: 'cb-gone' }), 'cb-me', none)).to.equal(true);
    expect(anotherContainers(item({ containerId: 'cb-other' }), 'cb-me', someRunning)).to.equal(true);
  });
  it('a shared item (the bridge, the NAT chain) is the last running container’s to remove', function () {
    expect(anotherContainers(item({ shared: true }), 'cb-me', none)).to.equal(false);
    expect(anotherContainers(item({ shared: true }), 'cb-me', someRunning)).to.equal(true);
  });
  it('an item nobody can be named for is this run’s leak', function () {
    expect(anotherContainers(item({}), 'cb-me', someRunning)).to.equal(false);
  });
});
