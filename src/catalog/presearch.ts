import type { NodeProfile } from './types.js';

/**
 * Presearch node: the official grid image; one public IPv4 per node is Presearch's anti-Sybil rule.
 * The notice is the default; an operator replaces it (or disables the profile) in CATALOG_FILE when
 * the state of Presearch's node program is known.
 */
export const presearch: NodeProfile = {
  id: 'presearch',
  chain: 'Presearch',
  title: 'Presearch node',
  summary: '1 vCPU · 512 MB RAM · 10 GB SSD · public IPv4; needs your registration code',
  flist: 'https://hub.grid.tf/tf-official-apps/presearch-v2.3.flist',
  imageNote: 'official ThreeFold image (tf-official-apps)',
  entrypoint: '/sbin/zinit init',
  // the official zinit images start sshd with SSH_KEY
  ssh: true,
  sizes: [{ id: 'default', label: '1 vCPU · 512 MB RAM · 10 GB SSD', cpu: 1, memoryMb: 512, rootfsGb: 1, disks: [{ name: 'docker', sizeGb: 10, mountpoint: '/var/lib/docker' }] }],
  publicIpv4: true,
  ports: 'outbound only',
  inputs: [
    {
      key: 'registrationCode',
      prompt:
        'Send your Presearch registration code: 32 letters and digits, from https://nodes.presearch.com/dashboard (Setup).',
      secret: true,
      parse: (text) => {
        const code = text.trim();
        if (/^[A-Za-z0-9]{32}$/.test(code)) return { ok: true, value: code };
        return {
          ok: false,
          error: `A Presearch registration code is exactly 32 letters and digits; that was ${
            code.length > 99 ? 'much longer' : `${[...code].length} characters`
          }${/[^A-Za-z0-9]/.test(code) ? ' and had other characters' : ''}.`,
        };
      },
    },
  ],
  notice:
    'Check that the Presearch node program accepts new nodes before you pay: a third party reported it closed in July 2026.',
  env: (inputs) => ({ PRESEARCH_REGISTRATION_CODE: inputs.registrationCode ?? '' }),
  // it serves nothing inbound to ask; Presearch's own API is rate-limited per node and keyed by the user
  probe: { kind: 'none' },
  howToReach: (ip) =>
    `It registers itself with Presearch; watch it at https://nodes.presearch.com/dashboard.${ip ? ` Public IP ${ip}.` : ''}`,
};
