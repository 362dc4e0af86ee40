// Zone selection strings ("crows_feet, under_eye_left, forehead"): parsing, resolution and toggling.
//
// Pure functions, no imports, no side effects (ComfyUI imports every .js under web/ as an extension).
// Resolution follows Python's zone_atlas.resolve_zones exactly: tokens split on commas, semicolons and
// whitespace; case-insensitive; apostrophes dropped and hyphens read as underscores; aliases; group names
// expand to their zones; order of first appearance kept, duplicates removed. The atlas data (names, groups,
// aliases) comes from web/zone_diagram.json, exported from Python by tools/export_zone_diagram.py.
//
// Editing keeps the user's text: toggling a zone on appends one token, toggling it off removes the token that
// named it (or, when it came from a group, replaces the group by its remaining members); afterwards a pair of
// sides written separately ("eye_left, eye_right") is written as its group ("eyes").

/** Atlas lookups from the exported diagram JSON. */
export function makeAtlas(data) {
  const zoneNames = [...data.zone_names];
  const extraNames = [...(data.extra_zone_names ?? [])];
  const groups = Object.fromEntries(Object.entries(data.groups).map(([k, v]) => [k, [...v]]));
  const aliases = { ...(data.aliases ?? {}) };
  const zones = new Set([...zoneNames, ...extraNames]);
  // Two-sided groups ("crows_feet" -> left, right): the only groups written back in place of their members.
  const pairs = Object.fromEntries(
    Object.entries(groups).filter(([, m]) => m.length === 2 && m[0].endsWith("_left") && m[1].endsWith("_right")),
  );
  return { zoneNames, extraNames, groups, aliases, zones, pairs };
}

export function tokenize(text) {
  return String(text ?? "").split(/[,;\s]+/).filter((t) => t.length > 0);
}

/** A token as resolve_zones reads it: "Crow's-Feet" -> "crows_feet"; aliases applied. */
export function normaliseToken(token, atlas) {
  const t = token.trim().toLowerCase().replaceAll("'", "").replaceAll("-", "_");
  return Object.hasOwn(atlas.aliases, t) ? atlas.aliases[t] : t;
}

/** The zones one token stands for, or null when it is not a zone, group or alias. */
export function tokenZones(token, atlas) {
  const name = normaliseToken(token, atlas);
  if (Object.hasOwn(atlas.groups, name)) return atlas.groups[name];
  if (atlas.zones.has(name)) return [name];
  return null;
}

/** {zones, unknown}: canonical zones in order of first appearance, and the tokens Python would reject. */
export function resolveZones(text, atlas) {
  const zones = [];
  const unknown = [];
  for (const token of tokenize(text)) {
    const names = tokenZones(token, atlas);
    if (names === null) unknown.push(token);
    else for (const n of names) if (!zones.includes(n)) zones.push(n);
  }
  return { zones, unknown };
}

/** "all" | "some" | "none" of `zones` present in the selection `text` (for chip and group highlighting). */
export function selectionState(text, zones, atlas) {
  const selected = new Set(resolveZones(text, atlas).zones);
  const hits = zones.filter((z) => selected.has(z)).length;
  if (hits === 0) return "none";
  return hits === zones.length ? "all" : "some";
}

/** The other side of a sided zone ("crows_feet_left" <-> "crows_feet_right"), else null. */
export function otherSide(zone, atlas) {
  const m = /^(.*)_(left|right)$/.exec(zone);
  if (!m) return null;
  const other = `${m[1]}_${m[2] === "left" ? "right" : "left"}`;
  return atlas.zones.has(other) ? other : null;
}

/** Write each two-sided pair given as separate side tokens as its group name, at the first side's place. */
export function compactPairs(tokens, atlas) {
  const out = [...tokens];
  for (const [group, [left, right]] of Object.entries(atlas.pairs)) {
    const iLeft = out.findIndex((t) => normaliseToken(t, atlas) === left);
    const iRight = out.findIndex((t) => normaliseToken(t, atlas) === right);
    if (iLeft < 0 || iRight < 0) continue;
    out[Math.min(iLeft, iRight)] = group;
    out.splice(Math.max(iLeft, iRight), 1);
  }
  return out;
}

export function formatTokens(tokens) {
  return tokens.join(", ");
}

/** The selection without `zones`; tokens that do not mention them (unknown ones included) are kept as typed. */
export function removeZones(text, zones, atlas) {
  const drop = new Set(zones);
  const out = [];
  for (const token of tokenize(text)) {
    const names = tokenZones(token, atlas);
    if (names === null || !names.some((n) => drop.has(n))) out.push(token);
    else out.push(...names.filter((n) => !drop.has(n))); // a group losing members: its remaining zones
  }
  return formatTokens(compactPairs(out, atlas));
}

/** The selection with `zones` added (appended in the given order, if missing). */
export function addZones(text, zones, atlas) {
  const selected = new Set(resolveZones(text, atlas).zones);
  const missing = zones.filter((z, i) => !selected.has(z) && zones.indexOf(z) === i);
  if (missing.length === 0) return formatTokens(tokenize(text));
  return formatTokens(compactPairs([...tokenize(text), ...missing], atlas));
}

/** Toggle a set of zones together: all present -> removed, otherwise the missing ones are added. */
export function toggleZones(text, zones, atlas) {
  return selectionState(text, zones, atlas) === "all" ? removeZones(text, zones, atlas) : addZones(text, zones, atlas);
}

/** The zones a click on `zone` toggles: the zone, plus its other side when `bothSides`. */
export function clickTargets(zone, bothSides, atlas) {
  const other = bothSides ? otherSide(zone, atlas) : null;
  if (!other) return [zone];
  return zone.endsWith("_left") ? [zone, other] : [other, zone];
}
