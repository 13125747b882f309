/**
 * The network toolbox without root: subnets and addresses, --publish parsing,
 * /etc/hosts contents, the validations' wording, and the safety rails of the
 * `ip` runners (they refuse before any process is started).
 */
import { expect } from 'chai';
import { formatIp, parseIp, parseSubnet, sameNetwork, usableIn, type Subnet } from '../../src/core/net/addr.js';
import { hostsFile, hostsFor } from '../../src/core/net/hosts.js';
import type { Lease } from '../../src/core/net/ipam.js';
import { parsePublish } from '../../src/core/net/publish.js';
import { batched, ip, ipIn, NetToolError, toolStats } from '../../src/core/net/tools.js';
import { netValidations, type NetFields } from '../../src/core/net/validate.js';
import { testConfig } from '../support/config.js';

describe('network toolbox', function () {
  describe('subnets', function () {
    it('parses a private network address', function () {
      const s = parseSubnet('10.217.0.0/24') as Subnet;
      expect(formatIp(s.network)).to.equal('10.217.0.0');
      expect(s.gateway).to.equal('10.217.0.1');
      expect(formatIp(s.broadcast)).to.equal('10.217.0.255');
      expect(usableIn(parseIp('10.217.0.2')!, s)).to.equal(true);
      expect(usableIn(parseIp('10.217.0.1')!, s), 'the gateway').to.equal(false);
      expect(usableIn(parseIp('10.217.0.255')!, s), 'the broadcast').to.equal(false);
      expect(usableIn(parseIp('10.218.0.2')!, s), 'outside').to.equal(false);
    });
    const bad: [string, RegExp][] = [
      ['10.217.0.0/33', /"10.217.0.0\/33" is not an IPv4 subnet|prefix \/33/],
      ['10.217.0.0', /"10.217.0.0" is not an IPv4 subnet/],
      ['10.300.0.0/24', /"10.300.0.0\/24" is not an IPv4 subnet/],
      ['10.217.0.5/24', /host bits set: did you mean 10.217.0.0\/24\?/],
      ['8.8.8.0/24', /not a private range/],
      ['10.0.0.0/31', /prefix \/31/],
    ];
    for (const [text, message] of bad) {
      it(`rejects ${text}, naming it`, function () {
        const s = parseSubnet(text);
        expect(s).to.be.a('string');
        expect(s).to.match(message);
      });
    }
    it('compares networks', function () {
      expect(sameNetwork('10.217.0.1', '10.217.0.77', 24)).to.equal(true);
      expect(sameNetwork('10.217.0.1', '10.217.1.77', 24)).to.equal(false);
    });
  });

  describe('--publish', function () {
    it('parses HOSTPORT:CONTAINERPORT, one or many', function () {
      expect(parsePublish('8080:80').ports).to.deep.equal([{ host: 8080, container: 80 }]);
      expect(parsePublish(['8080:80', '8443:443/tcp']).ports).to.have.length(2);
      expect(parsePublish(undefined)).to.deep.equal({ ports: [], problems: [] });
    });
    const bad: [unknown, RegExp][] = [
      ['8080', /"8080" is not HOSTPORT:CONTAINERPORT/],
      [8080, /"8080" is not HOSTPORT:CONTAINERPORT/],
      ['8080:70000', /port 70000 is not in 1–65535/],
      ['0:80', /port 0 is not in 1–65535/],
      ['53:53/udp', /"53:53\/udp" is not/],
      [['8080:80', '8080:81'], /host port 8080 is published twice/],
    ];
    for (const [value, message] of bad) {
      it(`rejects ${JSON.stringify(value)}, naming it`, function () {
        expect(parsePublish(value).problems.join('; ')).to.match(message);
      });
    }
  });

  describe('/etc/hosts', function () {
    const lease = (id: string, address: string, name?: string): Lease => ({
      id,
      address,
      subnet: '10.217.0.0/24',
      hostname: id,
      ...(name ? { name } : {}),
      pid: 1,
      runtime: { pid: 1, start: 0 },
      ports: [],
    });
    it('lists localhost, the container itself, then the named others', function () {
      const all = [lease('cb-1', '10.217.0.2', 'web'), lease('cb-2', '10.217.0.3', 'db'), lease('cb-3', '10.217.0.4')];
      expect(hostsFor(all[0]!, all)).to.equal(
        '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.217.0.2\tcb-1 web\n10.217.0.3\tdb\n',
      );
    });
    it('names a --net none container on 127.0.1.1', function () {
      expect(hostsFile({ address: '127.0.1.1', names: ['box', 'box'] }, [])).to.match(/\n127\.0\.1\.1\tbox\n$/);
    });
  });

  describe('validations (malformed values: no machine state involved)', function () {
    const problems = (over: NetFields): string[] =>
      netValidations.map((v) => v(testConfig(over))).filter((p): p is string => p !== undefined);
    const cases: [NetFields, RegExp][] = [
      [{ net: 'bridged' }, /--net "bridged" is not a network mode/],
      [
        { net: 'none', publish: ['8080:80'] },
        /--publish applies only with --net bridge \(this container is --net none\)/,
      ],
      [{ net: 'host', name: 'web' }, /--name applies only with --net bridge/],
      [{ subnet: '10.217.0.0/33' }, /10\.217\.0\.0\/33/],
      [{ ip: '10.217.0.300' }, /--ip "10.217.0.300" is not an IPv4 address/],
      [
        { ip: '10.217.0.1' },
        /--ip 10.217.0.1 is not a container address of 10.217.0.0\/24: use 10.217.0.2–10.217.0.254 \(10.217.0.1 is the bridge's\)/,
      ],
      [{ ip: '192.168.254.7' }, /--ip 192.168.254.7 is not a container address/],
      [{ name: 'Web_1' }, /--name "Web_1" is not a host name/],
      [{ publish: ['x:80'] }, /--publish "x:80"/],
    ];
    for (const [over, message] of cases) {
      it(`rejects ${JSON.stringify(over)}, naming the value`, function () {
        const p = problems(over);
        expect(p.join('\n')).to.match(message);
      });
    }
  });

  describe('safety rails of the ip runners', function () {
    const refused = (fn: () => unknown, message: RegExp): void => {
      const before = toolStats.calls;
      expect(fn).to.throw(NetToolError, message);
      expect(toolStats.calls, 'no process was started').to.equal(before);
    };
    it("ip() refuses to touch the host's eth0, lo or default route", function () {
      refused(() => ip(['addr', 'add', '10.217.0.2/24', 'dev', 'eth0']), /host's own eth0/);
      refused(() => ip(['link', 'set', 'lo', 'down']), /host's own lo/);
      refused(() => ip(['route', 'add', 'default', 'via', '10.217.0.1']), /host's own default route/);
    });
    it("ipIn() refuses a process that is still in the host's network namespace", function () {
      refused(() => ipIn(process.pid, ['link', 'set', 'lo', 'up']), /still in the host's network namespace/);
    });
    it('batched() runs the commands of one namespace as one `ip -batch`, and names the one that failed', function () {
      // Read-only commands: `ip link show` changes nothing, and needs no root.
      const before = toolStats.calls;
      batched(() => {
        expect(ip(['link', 'show', 'type', 'bridge']), 'queued: no output yet').to.equal('');
        ip(['addr', 'show', 'type', 'bridge']);
      });
      expect(toolStats.calls - before, 'one process for two commands').to.equal(1);
      let err: unknown;
      try {
        batched(() => {
          ip(['link', 'show', 'type', 'bridge']);
          ip(['link', 'show', 'dev', 'cbnosuch0']);
          ip(['addr', 'show', 'type', 'bridge']);
        });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(NetToolError);
      expect((err as NetToolError).argv).to.deep.equal(['ip', 'link', 'show', 'dev', 'cbnosuch0']);
      expect((err as NetToolError).stderr).to.match(/cbnosuch0/);
      expect((err as NetToolError).stderr).to.not.match(/Command failed/);
    });
  });
});
