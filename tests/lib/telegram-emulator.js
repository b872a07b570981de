#!/usr/bin/env node
// Starts the telegram-test-api Bot API emulator (pinned in package.json) on
// 127.0.0.1:PORT for the integration tests and the demo. It has no CLI of its own.
//
//   node tests/lib/telegram-emulator.js PORT
//
// Prints "ready PORT" once listening; stops on SIGTERM/SIGINT. The bot talks to
// http://127.0.0.1:PORT/bot<token>/<method>; tests act as Telegram users through the
// emulator's client routes: POST /sendMessage, /sendCommand, /sendCallback (a user
// message, a command, a button press) and /getUpdatesHistory (what the bot sent,
// with its edits applied).
'use strict';
const path = require('path');
const TelegramServer = require(path.join(__dirname, '..', '..', 'node_modules', 'telegram-test-api'));

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: telegram-emulator.js PORT');
  process.exit(2);
}
// storeTimeout: keep messages for the whole test run (the default drops them after 60s).
const server = new TelegramServer({ port, host: '127.0.0.1', storeTimeout: 3600 });
server.start().then(() => {
  console.log(`ready ${port}`);
}, (err) => {
  console.error(`telegram-emulator: ${err && err.message ? err.message : err}`);
  process.exit(1);
});
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.stop().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
