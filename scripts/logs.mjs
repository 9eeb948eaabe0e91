// `npm run logs`: follows the JSON log (data/logs/jukebox.log, or under DATA_DIR) pretty-printed.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import pretty from 'pino-pretty';

const file = path.join(process.env.DATA_DIR ?? 'data', 'logs', 'jukebox.log');
if (!existsSync(file)) process.stderr.write(`${file} does not exist yet; waiting for the bot to write it…\n`);
const tail = spawn('tail', ['-n', process.env.LINES ?? '100', '-F', file], { stdio: ['ignore', 'pipe', 'ignore'] });
tail.stdout.pipe(pretty({ colorize: process.stdout.isTTY, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss', ignore: 'pid,hostname,app' }));
process.on('SIGINT', () => {
  tail.kill();
  process.exit(0);
});
