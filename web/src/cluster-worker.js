// The fleet's clustering, off the main thread: the page sends the devices
// that moved and asks for the clusters of its view; rebuilding the index of
// 10,000+ points (every zoom level) takes a few hundred milliseconds that
// would otherwise freeze the page once a second.
import Supercluster from "supercluster";

const points = new Map(); // id → [lon, lat]
let index = null;
let dirty = false;

self.onmessage = (e) => {
  const m = e.data;
  if (m.type === "update") {
    for (const [id, lon, lat] of m.points) points.set(id, [lon, lat]);
    dirty = true;
    return;
  }
  if (m.type === "clusters") {
    if (dirty || !index) {
      index = new Supercluster({ radius: 40, maxZoom: 16 });
      index.load([...points].map(([id, c]) => ({ type: "Feature", properties: { id }, geometry: { type: "Point", coordinates: c } })));
      dirty = false;
    }
    const clusters = index.getClusters(m.bbox, m.zoom).map((c) => {
      const [lon, lat] = c.geometry.coordinates;
      return c.properties.cluster
        ? { lon, lat, count: c.properties.point_count, expandTo: index.getClusterExpansionZoom(c.properties.cluster_id) }
        : { lon, lat, id: c.properties.id };
    });
    self.postMessage({ type: "clusters", seq: m.seq, clusters });
  }
};
