/** The cgroup value conversions and their validations: docker's syntax in, kernel numbers out. No root needed. */
import { expect } from 'chai';
import {
  cgroupValidations,
  limitsFromConfig,
  parseCpus,
  parseDeviceRate,
  parseMemorySwap,
  parsePids,
  parseSize,
  swapOnly,
  type CgroupConfig,
} from '../../src/core/cgroups/values.js';
import { testConfig } from '../support/config.js';

const problems = (over: Partial<CgroupConfig>): string[] =>
  cgroupValidations.map((v) => v(testConfig(over))).filter((p): p is string => p !== undefined);

describe('cgroup values', function () {
  describe('sizes (docker’s syntax, binary units)', function () {
    const good: [string | number, number][] = [
      ['50m', 52428800],
      ['50M', 52428800],
      ['256mb', 268435456],
      ['1.5g', 1610612736],
      ['2GiB', 2147483648],
      ['64k', 65536],
      ['512', 512],
      ['100b', 100],
      ['1 g', 1073741824],
      [1048576, 1048576],
    ];
    for (const [text, bytes] of good) {
      it(`${JSON.stringify(text)} → ${bytes}`, () => expect(parseSize(text)).to.equal(bytes));
    }
    const bad: [string, RegExp][] = [
      ['512Q', /"512Q" is not a size: use a number with an optional unit b, k, m, g/],
      ['-5m', /"-5m" is negative: a size must be more than 0/],
      ['1.5.3G', /"1\.5\.3G" is not a size/],
      ['', /"" is not a size/],
      ['m', /"m" is not a size/],
    ];
    for (const [text, message] of bad) {
      it(`rejects ${JSON.stringify(text)}, naming it`, () => expect(() => parseSize(text)).to.throw(message));
    }
  });

  describe('--cpus → quota/period', function () {
    it('0.5 → 50000 µs every 100000 µs (docker’s period)', () =>
      expect(parseCpus('0.5', 2)).to.deep.equal({ quota: 50000, period: 100000 }));
    it('2 → 200000 (two CPUs’ worth per period)', () =>
      expect(parseCpus('2', 2)).to.deep.equal({ quota: 200000, period: 100000 }));
    it('0.01 is the least the kernel takes (1 ms)', () => expect(parseCpus('0.01', 2).quota).to.equal(1000));
    it('rejects 0, naming it', () => expect(() => parseCpus('0', 2)).to.throw(/0 must be more than 0: e\.g\. 0\.5/));
    it('rejects more CPUs than the machine has', () =>
      expect(() => parseCpus('3', 2)).to.throw(/more than the 2 CPUs this machine has/));
    it('rejects 0.001 (below 1 ms)', () => expect(() => parseCpus('0.001', 2)).to.throw(/below the kernel's minimum/));
    it('rejects text', () => expect(() => parseCpus('half', 2)).to.throw(/"half" is not a number of CPUs/));
  });

  describe('--pids-limit', function () {
    it('10 → 10', () => expect(parsePids('10')).to.equal(10));
    it('-1 → max (docker’s "unlimited")', () => expect(parsePids('-1')).to.equal('max'));
    it('rejects 0: not even the first process could exist', () =>
      expect(() => parsePids('0')).to.throw(/use at least 1/));
    it('rejects 2.5', () => expect(() => parsePids('2.5')).to.throw(/not a whole number/));
  });

  describe('--memory-swap (memory + swap, as docker)', function () {
    it('equal to --memory: no swap (v2 memory.swap.max 0)', function () {
      const l = limitsFromConfig(testConfig({ memory: '32m', 'memory-swap': '32m' }));
      expect(l.memorySwap).to.equal(33554432);
      expect(swapOnly(l)).to.equal(0);
    });
    it('-1: unlimited swap', () => expect(parseMemorySwap('-1', 1)).to.equal('max'));
    it('needs --memory', () => expect(() => parseMemorySwap('64m', undefined)).to.throw(/needs --memory too/));
    it('is at least --memory', () => expect(() => parseMemorySwap('16m', 33554432)).to.throw(/less than --memory/));
    it('unset: swap is not limited', () =>
      expect(swapOnly(limitsFromConfig(testConfig({ memory: '32m' })))).to.equal(undefined));
  });

  describe('DEVICE:RATE', function () {
    it('/dev/null is not a block device', () =>
      expect(() => parseDeviceRate('/dev/null:1mb')).to.throw(/\/dev\/null is not a block device/));
    it('a missing device is named', () =>
      expect(() => parseDeviceRate('/dev/cellblock-none:1mb')).to.throw(/device \/dev\/cellblock-none does not exist/));
    it('no rate', () => expect(() => parseDeviceRate('/dev/sda')).to.throw(/is not DEVICE:RATE/));
    it('a bad rate is named', () =>
      expect(() => parseDeviceRate('/dev/sda:fast')).to.throw(/the rate in "\/dev\/sda:fast"/));
  });

  describe('validations (the lesson’s validate list)', function () {
    it('accept no limits at all, and good ones', function () {
      expect(problems({})).to.deep.equal([]);
      expect(problems({ memory: '64m', 'memory-swap': '-1', cpus: '0.5', 'pids-limit': '100' })).to.deep.equal([]);
    });
    it('name the flag and the value', function () {
      expect(problems({ memory: '512Q' })).to.deep.equal([
        '--memory 512Q: "512Q" is not a size: use a number with an optional unit b, k, m, g (binary: 1k = 1024), e.g. 256m or 1.5g',
      ]);
      expect(problems({ cpus: '0' })).to.deep.equal([
        '--cpus 0: 0 must be more than 0: e.g. 0.5 for half a CPU (leave --cpus out for no limit)',
      ]);
    });
    it('refuse less than 6m of memory (docker’s minimum)', () =>
      expect(problems({ memory: '4m' })[0]).to.match(/--memory 4m: is below 6m/));
    it('say that a bare number is bytes: -m 100 is 100 bytes, and suggest 100m', () =>
      expect(problems({ memory: '100' })[0]).to.match(
        /--memory 100: is 100 bytes \(a size without a unit is bytes; did you mean 100m\?\), below 6m/,
      ));
    it('report a bad --memory once, not again as a --memory-swap problem', () =>
      expect(problems({ memory: '1.5.3G', 'memory-swap': '2g' })).to.have.length(1));
    it('report every problem at once', () =>
      expect(
        problems({ memory: '-5m', cpus: '0', 'pids-limit': '0', 'device-write-bps': '/dev/nope:1m' }),
      ).to.have.length(4));
    it('take repeated device flags (an array)', () =>
      expect(problems({ 'device-read-bps': ['/dev/nope1:1m', '/dev/nope2:1m'] })[0]).to.match(/\/dev\/nope1/));
  });
});
