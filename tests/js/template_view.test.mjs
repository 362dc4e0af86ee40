import { test } from "node:test";
import assert from "node:assert/strict";
import { templateView } from "../../web/template_view.js";

const view = { scale: 0.8, offset: [537.5, 177.5] };

test("an untouched template gets its intended view back", () => {
  assert.deepEqual(templateView({ ds: { ...view }, facelab_view: { ...view } }), view);
});

test("a view the user saved is left to the frontend", () => {
  assert.equal(templateView({ ds: { scale: 0.5, offset: [0, 0] }, facelab_view: view }), null);
  assert.equal(templateView({ ds: { scale: 0.8, offset: [537.5, 100] }, facelab_view: view }), null);
});

test("other workflows and malformed values are ignored", () => {
  assert.equal(templateView(undefined), null);
  assert.equal(templateView({ ds: view }), null);
  assert.equal(templateView({ ds: view, facelab_view: { scale: "x", offset: [1, 2] } }), null);
  assert.equal(templateView({ ds: view, facelab_view: { scale: 0.8, offset: [1] } }), null);
  assert.equal(templateView({ ds: { scale: 0, offset: [0, 0] }, facelab_view: { scale: 0, offset: [0, 0] } }), null);
});
