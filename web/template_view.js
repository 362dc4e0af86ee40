// The view a shipped FaceLab workflow opens at. The frontend restores a workflow's saved view (extra.ds) when a
// file is dropped, but fits the whole graph when the template browser opens it, which for a wide workflow is a
// zoom where no node text is drawn. The builder stores the intended view twice, as extra.ds and extra.facelab_view;
// while the two still agree the workflow is the untouched template, and its intended view is restored. Once a user
// saves another view, extra.ds differs and the frontend's own restore stands. Side-effect free (imported by tests).

const same = (a, b) => Math.abs(Number(a) - Number(b)) < 1e-6;

export function templateView(extra) {
  const view = extra?.facelab_view;
  const ds = extra?.ds;
  if (!view || !ds || !Array.isArray(view.offset) || !Array.isArray(ds.offset)) return null;
  if (view.offset.length !== 2 || ds.offset.length !== 2) return null;
  if (!Number.isFinite(Number(view.scale)) || Number(view.scale) <= 0) return null;
  const untouched = same(view.scale, ds.scale) && same(view.offset[0], ds.offset[0]) && same(view.offset[1], ds.offset[1]);
  return untouched ? { scale: Number(view.scale), offset: [Number(view.offset[0]), Number(view.offset[1])] } : null;
}
