// Drawing on the map: a polygon by clicking its corners (each a draggable
// handle) or a circle by clicking its centre, with the shape also editable
// as text (one "lat, lon" per line) for keyboard users and exact values.
import L from "leaflet";

const handleIcon = L.divIcon({ className: "handle", iconSize: [14, 14] });

export class Drawing {
  // onChange is called after every edit with the shape's text.
  constructor(map, layer, onChange) {
    this.map = map;
    this.group = L.layerGroup().addTo(layer);
    this.onChange = onChange;
    this.kind = "polygon";
    this.points = []; // [lat, lon]
    this.radius = 200;
    this.active = false;
    this.click = (e) => this.add([e.latlng.lat, e.latlng.lng]);
  }

  start(kind) {
    this.kind = kind;
    this.active = true;
    this.map.on("click", this.click);
    this.map.getContainer().classList.add("drawing");
  }

  stop() {
    this.active = false;
    this.map.off("click", this.click);
    this.map.getContainer().classList.remove("drawing");
  }

  clear() {
    this.points = [];
    this.render();
  }

  add(ll) {
    if (this.kind === "circle") this.points = [ll];
    else this.points.push(ll);
    this.render();
  }

  set(kind, points, radius) {
    this.kind = kind;
    this.points = points;
    if (radius) this.radius = radius;
    this.render(false);
  }

  setRadius(r) {
    this.radius = r;
    this.render(false);
  }

  // fromText reads "lat, lon" lines; it returns an error message or "".
  fromText(text) {
    const pts = [];
    for (const [i, line] of text.split("\n").entries()) {
      if (!line.trim()) continue;
      const m = /^\s*(-?\d+(?:\.\d+)?)\s*[, ]\s*(-?\d+(?:\.\d+)?)\s*$/.exec(line);
      if (!m) return `line ${i + 1}: want "lat, lon"`;
      pts.push([+m[1], +m[2]]);
    }
    this.points = this.kind === "circle" ? pts.slice(0, 1) : pts;
    this.render(false);
    return "";
  }

  text() {
    return this.points.map(([a, b]) => `${a.toFixed(6)}, ${b.toFixed(6)}`).join("\n");
  }

  render(notify = true) {
    this.group.clearLayers();
    if (this.kind === "circle" && this.points.length) {
      L.circle(this.points[0], { radius: this.radius, color: "#146c2e" }).addTo(this.group);
    } else if (this.points.length > 1) {
      L.polygon(this.points, { color: "#146c2e" }).addTo(this.group);
    }
    this.points.forEach((p, i) => {
      L.marker(p, { icon: handleIcon, draggable: true, title: `corner ${i + 1}`, keyboard: false })
        .on("dragend", (e) => {
          const ll = e.target.getLatLng();
          this.points[i] = [ll.lat, ll.lng];
          this.render();
        })
        .addTo(this.group);
    });
    if (notify) this.onChange(this.text());
  }

  // geometry is the GeoJSON of the shape, or an error message.
  geometry() {
    if (this.kind === "circle") {
      if (this.points.length !== 1) return { error: "click the circle's centre on the map" };
      const [lat, lon] = this.points[0];
      return { geometry: { type: "Point", coordinates: [lon, lat] }, radius_m: this.radius };
    }
    if (this.points.length < 3) return { error: "a polygon needs at least 3 corners" };
    const ring = this.points.map(([lat, lon]) => [lon, lat]);
    ring.push(ring[0]);
    return { geometry: { type: "Polygon", coordinates: [ring] } };
  }
}
