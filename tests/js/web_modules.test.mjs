// ComfyUI imports EVERY .js under web/ as an extension, so all but the one entry module must be side-effect
// free: importing them must touch no browser global and register nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";

const WEB = new URL("../../web/", import.meta.url);
const ENTRY = "facelab_widgets.js"; // the only module that imports ComfyUI's app and registers the extension
const modules = readdirSync(WEB).filter((f) => f.endsWith(".js"));

test("helper modules import without touching document, window or app", async () => {
  const trap = new Proxy({}, { get: (_, key) => { throw new Error(`browser global used at import (${String(key)})`); } });
  globalThis.document = trap;
  globalThis.window = trap;
  try {
    for (const file of modules.filter((f) => f !== ENTRY)) await import(new URL(file, WEB).href);
  } finally {
    delete globalThis.document;
    delete globalThis.window;
  }
});

test("exactly one module registers an extension, and only it imports ComfyUI", () => {
  assert.ok(modules.includes(ENTRY));
  for (const file of modules) {
    const source = readFileSync(new URL(file, WEB), "utf8");
    const registers = /registerExtension\s*\(/.test(source);
    const importsApp = /scripts\/app\.js/.test(source);
    assert.equal(registers, file === ENTRY, `${file} registerExtension`);
    assert.equal(importsApp, file === ENTRY, `${file} imports scripts/app.js`);
  }
});
