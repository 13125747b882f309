/**
 * cellblockd's translation of Docker's create body and its wire format,
 * without a daemon: what the CLI sends becomes the lesson options, unknown
 * fields are ignored, unsupported features are refused by name, broken JSON is
 * a 400 — and the stdcopy frame is the 8 bytes the CLI demultiplexes.
 */
import { expect } from 'chai';
import { ApiError, frame, parseJson } from '../../src/cli/daemon/http.js';
import { normalizeImage, translate, type CreateBody } from '../../src/cli/daemon/translate.js';
import { parseSignal } from '../../src/cli/daemon/daemon.js';

const defaults = (): { cmd: string[]; env: string[] } => ({ cmd: ['sh'], env: ['PATH=/bin', 'HOME=/root'] });

/** The status and message an ApiError carries, or a failure when `f` does not throw one. */
function refusal(f: () => unknown): [number, string] {
  try {
    f();
  } catch (err) {
    if (err instanceof ApiError) return [err.status, err.message];
    throw err;
  }
  throw new Error('expected an ApiError');
}

describe('cellblockd: the create body', function () {
  it('a body as `docker run -d --name web -p 8080:80 -m 64m --cap-drop NET_RAW busybox httpd -f` sends it', function () {
    const body: CreateBody = {
      Image: 'busybox',
      Cmd: ['httpd', '-f'],
      Env: ['A=1', 'PATH=/usr/bin'],
      Tty: false,
      OpenStdin: false,
      HostConfig: {
        NetworkMode: 'default',
        PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] },
        Memory: 67108864,
        CapDrop: ['NET_RAW'],
        AutoRemove: false,
        LogConfig: { Type: '', Config: {} }, // one of the many fields the CLI sends that do not matter here
      },
      ExposedPorts: { '80/tcp': {} },
    };
    const spec = translate(body, defaults);
    expect(spec.image).to.equal('busybox:latest');
    expect(spec.cmd).to.deep.equal(['httpd', '-f']);
    expect(spec.env).to.deep.equal(['PATH=/usr/bin', 'HOME=/root', 'A=1']);
    expect(spec.runOptions).to.deep.equal([
      ['publish', '8080:80'],
      ['memory', '67108864b'],
      ['cap-drop', 'NET_RAW'],
    ]);
  });

  it("the image's command when Cmd is absent; Entrypoint + Cmd when both are given", function () {
    expect(translate({ Image: 'busybox' }, defaults).cmd).to.deep.equal(['sh']);
    expect(translate({ Image: 'busybox', Entrypoint: ['echo'], Cmd: ['hi'] }, defaults).cmd).to.deep.equal([
      'echo',
      'hi',
    ]);
  });

  it('network modes: bridge is the default, none/host/container: pass on', function () {
    expect(translate({ Image: 'b', HostConfig: { NetworkMode: 'bridge' } }, defaults).runOptions).to.deep.equal([]);
    expect(translate({ Image: 'b', HostConfig: { NetworkMode: 'none' } }, defaults).runOptions).to.deep.equal([
      ['net', 'none'],
    ]);
    expect(translate({ Image: 'b', HostConfig: { NetworkMode: 'container:web' } }, defaults).runOptions).to.deep.equal([
      ['net', 'container:web'],
    ]);
  });

  const unsupported: [string, CreateBody, RegExp][] = [
    ['a user network', { Image: 'b', HostConfig: { NetworkMode: 'mynet' } }, /--network mynet/],
    ['a bind mount', { Image: 'b', HostConfig: { Binds: ['/tmp:/x'] } }, /volumes \(-v \/tmp:\/x\)/],
    ['--mount', { Image: 'b', HostConfig: { Mounts: [{ Type: 'volume' }] } }, /--mount/],
    ['an anonymous volume', { Image: 'b', Volumes: { '/data': {} } }, /volumes/],
    ['a UDP port', { Image: 'b', HostConfig: { PortBindings: { '53/udp': [{ HostPort: '53' }] } } }, /-p 53\/udp/],
    ['--pid host', { Image: 'b', HostConfig: { PidMode: 'host' } }, /--pid host/],
    ['--device', { Image: 'b', HostConfig: { Devices: [{ PathOnHost: '/dev/fuse' }] } }, /--device/],
  ];
  for (const [what, body, named] of unsupported) {
    it(`${what}: refused with a 400 that names the option`, function () {
      const [status, message] = refusal(() => translate(body, defaults));
      expect(status).to.equal(400);
      expect(message).to.match(/^cellblockd does not support /);
      expect(message).to.match(named);
    });
  }

  it('no image: 400', function () {
    expect(refusal(() => translate({}, defaults))[0]).to.equal(400);
  });

  it("Docker's long image names are the store's short ones", function () {
    expect(normalizeImage('docker.io/library/busybox')).to.equal('busybox:latest');
    expect(normalizeImage('busybox:1.36')).to.equal('busybox:1.36');
  });
});

describe('cellblockd: the wire', function () {
  it('broken JSON is a 400 with the parser’s words; an empty body is {}', function () {
    const [status, message] = refusal(() => parseJson(Buffer.from('{"Image": ')));
    expect(status).to.equal(400);
    expect(message).to.match(/^invalid JSON: /);
    expect(refusal(() => parseJson(Buffer.from('[1]')))[0]).to.equal(400);
    expect(parseJson(Buffer.from(''))).to.deep.equal({});
  });

  it('a stdcopy frame: stream byte, three zeros, big-endian length, payload', function () {
    const f = frame(2, Buffer.from('err\n'));
    expect([...f.subarray(0, 8)]).to.deep.equal([2, 0, 0, 0, 0, 0, 0, 4]);
    expect(f.subarray(8).toString()).to.equal('err\n');
  });

  it('signals by name, short name or number; anything else is a 400', function () {
    expect(parseSignal('SIGTERM')).to.equal('SIGTERM');
    expect(parseSignal('hup')).to.equal('SIGHUP');
    expect(parseSignal('9')).to.equal(9);
    expect(refusal(() => parseSignal('SIGNOPE'))[0]).to.equal(400);
    expect(refusal(() => parseSignal('99'))[0]).to.equal(400);
  });
});
