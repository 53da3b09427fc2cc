import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";

/* The data are in the demo's camera frame (x right, y down, z forward) and millimetres; the scene
   is in metres with y up, so a point (x, y, z) mm sits at (x, -y, -z) / 1000 and the demo's camera
   is at the origin looking along -z. People without a camera-space place ("placed": false) are
   root-relative: they stand side by side in a row in front of the camera, a display offset only. */
const MM = 0.001;
const UNPLACED_GAP_MM = 1000;
const UNPLACED_DEPTH_MM = 3000;
const HEAD = 10;
const CAMERA_MARKER_MM = 350;

const data = JSON.parse(document.getElementById("hg3d-data").textContent);
const frameCount = data.frames.length;
const fps = data.fps || 25;
const slotOf = new Map(data.tracks.map((id, slot) => [id, slot]));
/* What each id is called: "id K" for a track, "#K" for a person of an image, as the demo's overlay labels them. */
const nameOf = new Map(data.frames.flatMap((frame) => frame.people.map((person) => [person.id, person.name])).reverse());

const view = document.getElementById("view");
const tooltip = document.getElementById("tooltip");
const emptyNote = document.getElementById("empty-note");
const slider = document.getElementById("slider");
const playButton = document.getElementById("play");
const frameLabel = document.getElementById("frame-label");
const video = data.video ? document.getElementById("video") : null;
const mediaPanel = document.getElementById("media-panel");
const labelLayer = document.getElementById("labels");

function toScene(p) {
  return new THREE.Vector3(p[0] * MM, -p[1] * MM, -p[2] * MM);
}

function toCamera(v) {
  return [v.x / MM, -v.y / MM, -v.z / MM];
}

function displayOffset(person) {
  if (person.placed) return [0, 0, 0];
  const centre = (data.tracks.length - 1) / 2;
  return [(slotOf.get(person.id) - centre) * UNPLACED_GAP_MM, 0, UNPLACED_DEPTH_MM];
}

function trackColour(id) {
  return new THREE.Color().setHSL((0.02 + slotOf.get(id) * 0.618034) % 1, 0.75, 0.58);
}

function isDrawn(object) {
  for (let o = object; o; o = o.parent) if (!o.visible) return false;
  return true;
}

/* A name that keeps its size on screen (CSS pixels) however near or far the view is, so that it
   never covers the people behind it: an HTML element over the canvas, moved after each render to
   where its anchor (an object of the scene) is drawn, ``lift`` pixels above it. */
const labels = [];

class ScreenLabel {
  constructor(text, colour, anchor, lift) {
    this.anchor = anchor;
    this.lift = lift;
    this.element = document.createElement("span");
    this.element.className = "label";
    this.element.textContent = text;
    this.element.style.color = colour;
    labelLayer.append(this.element);
    labels.push(this);
  }

  place(width, height) {
    const point = this.anchor.getWorldPosition(new THREE.Vector3()).project(camera);
    this.element.hidden = !isDrawn(this.anchor) || Math.abs(point.z) > 1; /* |z| > 1: behind the eye or too far */
    if (this.element.hidden) return;
    const x = ((point.x + 1) / 2) * width;
    const y = ((1 - point.y) / 2) * height - this.lift;
    this.element.style.transform = `translate(${x.toFixed(1)}px, ${y.toFixed(1)}px) translate(-50%, -100%)`;
  }
}

function placeLabels() {
  const width = view.clientWidth;
  const height = view.clientHeight;
  for (const label of labels) label.place(width, height);
}

const renderer = new THREE.WebGLRenderer({ antialias: true });
renderer.setPixelRatio(window.devicePixelRatio);
view.appendChild(renderer.domElement);
const scene = new THREE.Scene();
scene.background = new THREE.Color(0x1d2127);
scene.add(new THREE.HemisphereLight(0xffffff, 0x404850, 2.2));
const sun = new THREE.DirectionalLight(0xffffff, 1.6);
sun.position.set(2, 4, 3);
scene.add(sun);
const camera = new THREE.PerspectiveCamera(50, 1, 0.01, 500);
const controls = new OrbitControls(camera, renderer.domElement);

let grid = null;
let everything = null; /* the sphere the first view takes in */
let userMoved = false; /* until the user turns, zooms or pans, a resize frames everything again */

const JOINT_GEOMETRY = new THREE.SphereGeometry(0.04, 16, 12);
const BONE_GEOMETRY = new THREE.CylinderGeometry(0.02, 0.02, 1, 10);
const UP = new THREE.Vector3(0, 1, 0);

function placeBone(bone, from, to) {
  const along = new THREE.Vector3().subVectors(to, from);
  const length = along.length();
  bone.visible = length > 1e-6;
  if (!bone.visible) return;
  bone.position.addVectors(from, to).multiplyScalar(0.5);
  bone.quaternion.setFromUnitVectors(UP, along.divideScalar(length));
  bone.scale.set(1, length, 1);
}

/* One tracked person: joints (spheres), bones (cylinders) and the id above the head. */
class Figure {
  constructor(id) {
    this.id = id;
    const colour = trackColour(id);
    const jointMaterial = new THREE.MeshLambertMaterial({ color: colour });
    const boneMaterial = new THREE.MeshLambertMaterial({ color: colour.clone().multiplyScalar(0.75) });
    this.group = new THREE.Group();
    this.joints = data.joint_names.map((name, joint) => {
      const mesh = new THREE.Mesh(JOINT_GEOMETRY, jointMaterial);
      mesh.userData = { figure: this, joint };
      this.group.add(mesh);
      return mesh;
    });
    this.bones = data.edges.map(() => {
      const mesh = new THREE.Mesh(BONE_GEOMETRY, boneMaterial);
      this.group.add(mesh);
      return mesh;
    });
    this.label = new ScreenLabel(nameOf.get(id), `#${colour.getHexString()}`, this.joints[HEAD], 14);
    scene.add(this.group);
  }

  show(person) {
    this.person = person;
    this.group.visible = true;
    this.group.position.copy(toScene(displayOffset(person)));
    person.joints.forEach((point, joint) => this.joints[joint].position.copy(toScene(point)));
    data.edges.forEach(([a, b], i) => placeBone(this.bones[i], this.joints[a].position, this.joints[b].position));
  }

  /* The joints where they are drawn, back in the camera frame (mm); an unplaced person less the
     display offset, so root-relative as in the JSON. */
  cameraJoints() {
    const drawn = this.joints.map((mesh) => toCamera(mesh.getWorldPosition(new THREE.Vector3())));
    if (this.person.placed) return drawn;
    const offset = displayOffset(this.person);
    return drawn.map((point) => point.map((value, axis) => value - offset[axis]));
  }
}

/* Every joint of every frame where it is drawn. */
function drawnJoints() {
  const joints = [];
  for (const frame of data.frames) {
    for (const person of frame.people) {
      const offset = toScene(displayOffset(person));
      for (const point of person.joints) joints.push(toScene(point).add(offset));
    }
  }
  return joints;
}

let cameraNames = [];

/* The floor under the lowest joint (or the world's floor), and the sphere around the camera(s) and
   everyone that the first view takes in. */
function addFloorAndCamera() {
  const joints = drawnJoints();
  const markers = data.cameras || [{ name: "camera", intrinsics: data.intrinsics, R: null, t: [0, 0, 0] }];
  cameraNames = markers.map((m) => m.name);
  const centres = markers.map((m) => toScene(m.t));
  const extent = new THREE.Box3().setFromPoints([...centres, ...joints]);
  const floor = joints.length ? Math.min(...joints.map((p) => p.y)) : -1.5;
  const middle = extent.getCenter(new THREE.Vector3());
  const size = Math.ceil(Math.max(extent.max.x - extent.min.x, extent.max.z - extent.min.z) + 2);
  grid = new THREE.GridHelper(size, size * 2, 0x6b7782, 0x3a424b);
  if (data.world) {
    /* The world's floor (its Y = 0: R[1] . X + t[1] = 0 in the camera frame), under the middle. */
    const up = toScene(data.world.R[1]).divideScalar(MM).normalize();
    const above = up.dot(middle) + data.world.t[1] * MM;
    grid.position.copy(middle).addScaledVector(up, -above);
    grid.quaternion.setFromUnitVectors(UP, up);
  } else {
    grid.position.set(middle.x, floor, middle.z);
  }
  scene.add(grid);
  for (const m of markers) scene.add(cameraMarker(m));
  everything = new THREE.Sphere(middle, Math.max(0.5, extent.getSize(new THREE.Vector3()).length() / 2));
}

/* The first view, from above and to the right: far enough that the sphere around the cameras and
   every joint of the clip fits the narrower of the view's two fields of view. */
function frameEverything() {
  const halfHeight = THREE.MathUtils.degToRad(camera.fov / 2);
  const halfWidth = Math.atan(Math.tan(halfHeight) * camera.aspect);
  const distance = everything.radius / Math.sin(Math.min(halfHeight, halfWidth));
  const direction = new THREE.Vector3(0.6, 0.45, 0.65).normalize();
  camera.position.copy(everything.center).addScaledVector(direction, distance);
  controls.target.copy(everything.center);
  controls.update();
}

/* A camera: a pyramid towards the image corners (from the intrinsics, else a 55 degree 4:3 view)
   with a triangle on the top edge. The demo's camera is at the origin; hg3d-triangulate's cameras
   carry R and t, which take a point of the marker's camera frame into the drawn frame (mm). */
function cameraMarker(marker) {
  const k = marker.intrinsics;
  const depth = CAMERA_MARKER_MM;
  let corners;
  if (k) {
    corners = [[0, 0], [2 * k.cx, 0], [2 * k.cx, 2 * k.cy], [0, 2 * k.cy]].map(([u, v]) => [
      ((u - k.cx) / k.fx) * depth, ((v - k.cy) / k.fy) * depth, depth,
    ]);
  } else {
    const w = Math.tan((27.5 * Math.PI) / 180) * depth;
    const h = 0.75 * w;
    corners = [[-w, -h, depth], [w, -h, depth], [w, h, depth], [-w, h, depth]];
  }
  const points = [];
  corners.forEach((corner, i) => points.push([0, 0, 0], corner, corner, corners[(i + 1) % 4]));
  const top = [(corners[0][0] + corners[1][0]) / 2, corners[0][1] * 1.4, depth];
  points.push(corners[0], top, top, corners[1]);
  const place = (p) => {
    const r = marker.R || [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
    return toScene(r.map((row, i) => row[0] * p[0] + row[1] * p[1] + row[2] * p[2] + marker.t[i]));
  };
  const geometry = new THREE.BufferGeometry().setFromPoints(points.map(place));
  const lines = new THREE.LineSegments(geometry, new THREE.LineBasicMaterial({ color: 0xffffff }));
  const anchor = new THREE.Object3D();
  anchor.position.copy(place(top));
  lines.add(anchor);
  new ScreenLabel(marker.name, "#ffffff", anchor, 4);
  return lines;
}

function fillLegend() {
  const legend = document.getElementById("legend");
  for (const id of data.tracks) {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = `#${trackColour(id).getHexString()}`;
    item.append(swatch, nameOf.get(id));
    legend.append(item);
  }
}

/* The joint angles of one track (the select's) as curves under the 3D view, frames along x, with
   a cursor at the frame shown; a gap where an angle is null. */
const anglePanel = document.getElementById("angles-panel");
const angleChart = document.getElementById("angle-chart");
const angleTrack = document.getElementById("angle-track");
let chartState = null;

function angleColour(k) {
  return `hsl(${Math.round((k * 360) / data.angle_names.length)}, 70%, 62%)`;
}

/* Per angle, its value on every frame for track ``id`` (null where unknown). */
function angleSeries(id) {
  return data.angle_names.map((_, k) =>
    data.frames.map((frame) => {
      const person = frame.people.find((p) => p.id === id);
      return person && person.angles ? person.angles[k] : null;
    }),
  );
}

function setUpAngleChart() {
  const charted = data.tracks.filter((id) => data.frames.some((f) => f.people.some((p) => p.id === id && p.angles)));
  if (!charted.length) return;
  anglePanel.hidden = false;
  for (const id of charted) angleTrack.append(new Option(nameOf.get(id), String(id)));
  const legend = document.getElementById("angle-legend");
  data.angle_names.forEach((name, k) => {
    const item = document.createElement("li");
    item.style.color = angleColour(k);
    item.textContent = name;
    legend.append(item);
  });
  angleTrack.addEventListener("change", () => {
    drawAngleChart();
    publishState();
  });
  new ResizeObserver(drawAngleChart).observe(angleChart);
}

function drawAngleChart() {
  if (anglePanel.hidden) return;
  const id = Number(angleTrack.value);
  const series = angleSeries(id);
  const width = Math.max(angleChart.clientWidth, 1);
  const height = Math.max(angleChart.clientHeight, 1);
  const ratio = window.devicePixelRatio || 1;
  angleChart.width = Math.round(width * ratio);
  angleChart.height = Math.round(height * ratio);
  const context = angleChart.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  const values = series.flat().filter((v) => v !== null);
  const low = Math.min(0, ...values) - 5;
  const high = Math.max(90, ...values) + 5;
  const pad = 36;
  const xOf = (k) => pad + (frameCount > 1 ? (k / (frameCount - 1)) * (width - pad - 8) : 0);
  const yOf = (v) => 4 + ((high - v) / (high - low)) * (height - 8);
  context.font = "11px sans-serif";
  context.fillStyle = "#9aa3ad";
  context.strokeStyle = "#3a424b";
  for (const tick of [-90, 0, 90, 180]) {
    if (tick < low || tick > high) continue;
    context.beginPath();
    context.moveTo(pad, yOf(tick));
    context.lineTo(width - 8, yOf(tick));
    context.stroke();
    context.fillText(String(tick), 4, yOf(tick) + 4);
  }
  let curves = 0;
  series.forEach((values, k) => {
    context.strokeStyle = angleColour(k);
    context.beginPath();
    let drawing = false;
    values.forEach((v, frame) => {
      if (v === null) {
        drawing = false;
        return;
      }
      if (drawing) context.lineTo(xOf(frame), yOf(v));
      else context.moveTo(xOf(frame), yOf(v));
      drawing = true;
    });
    context.stroke();
    if (values.some((v) => v !== null)) curves += 1;
  });
  const cursor = xOf(current);
  context.strokeStyle = "#ffffff";
  context.beginPath();
  context.moveTo(cursor, 0);
  context.lineTo(cursor, height);
  context.stroke();
  chartState = { track: id, curves, cursor_x: cursor, width };
}

const figures = new Map();
let current = 0;
let needsRender = true;
let needsState = false;

function figureOf(id) {
  if (!figures.has(id)) figures.set(id, new Figure(id));
  return figures.get(id);
}

function showFrame(k) {
  current = Math.max(0, Math.min(frameCount - 1, Math.trunc(k) || 0));
  const frame = data.frames[current];
  const shown = new Set(frame.people.map((person) => person.id));
  for (const [id, figure] of figures) figure.group.visible = shown.has(id);
  for (const person of frame.people) figureOf(person.id).show(person);
  emptyNote.hidden = frame.people.length > 0;
  slider.value = String(current);
  const last = data.frames[frameCount - 1].frame;
  frameLabel.textContent = `frame ${frame.frame} / ${last} \u00b7 ${frame.time_s.toFixed(2)} s`;
  drawAngleChart();
  needsRender = true;
  needsState = true;
}

/* document.body.dataset.hg3dState: what the last render drew, for scripts and tests. */
function publishState() {
  const people = data.frames[current].people;
  const joints = {};
  for (const person of people) joints[String(person.id)] = figures.get(person.id).cameraJoints();
  const tracks = people.map((person) => person.id);
  const state = {
    ready: true, frame: current, frames: frameCount, tracks, joints, cameras: cameraNames, chart: chartState,
  };
  document.body.dataset.hg3dState = JSON.stringify(state);
}

/* Playback follows the video's clock when there is a video, else the page's own. */
let playing = false;
let clockStart = 0;
let clockFrame = 0;

function frameAtTime(seconds) {
  return Math.floor(seconds * fps + 1e-3);
}

function frameMiddle(k) {
  return (k + 0.5) / fps;
}

function play() {
  if (current >= frameCount - 1) showFrame(0);
  playing = true;
  playButton.textContent = "Pause";
  clockStart = performance.now();
  clockFrame = current;
  if (video) {
    video.currentTime = frameMiddle(current);
    video.play().catch(() => undefined);
  }
}

function pause() {
  playing = false;
  playButton.textContent = "Play";
  if (video) video.pause();
}

function followClock() {
  const videoRunning = video && !video.paused && video.readyState >= 2;
  const k = videoRunning ? frameAtTime(video.currentTime) : clockFrame + frameAtTime((performance.now() - clockStart) / 1000);
  if (k >= frameCount - 1 || (video && video.ended)) {
    showFrame(frameCount - 1);
    pause();
  } else if (k !== current) {
    showFrame(k);
  }
}

function goTo(k) {
  pause();
  showFrame(k);
  if (video) video.currentTime = frameMiddle(current);
}

function frameFromHash() {
  const match = /(?:^#|&)frame=(\d+)/.exec(window.location.hash);
  return match ? Number(match[1]) : null;
}

function setUpTimeline() {
  document.getElementById("timeline").hidden = false;
  slider.max = String(frameCount - 1);
  slider.addEventListener("input", () => {
    goTo(Number(slider.value));
    window.history.replaceState(null, "", `#frame=${current}`);
  });
  playButton.addEventListener("click", () => (playing ? pause() : play()));
  window.addEventListener("keydown", (event) => {
    if (event.target === slider) return;
    if (event.key === " ") {
      event.preventDefault();
      if (playing) pause();
      else play();
    } else if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      goTo(current + (event.key === "ArrowRight" ? 1 : -1));
    }
  });
  if (!video) return;
  video.addEventListener("error", () => {
    const name = data.video.startsWith("data:") ? "embedded in the page" : decodeURIComponent(data.video);
    mediaNote(`the video (${name}) could not be played`);
  });
  showMedia(video, data.video);
}

/* The overlay video, or an image result's picture, in the panel beside the 3D. */
function showMedia(element, source) {
  element.src = source;
  element.hidden = false;
  mediaPanel.hidden = false;
}

function mediaNote(text) {
  const note = document.getElementById("media-note");
  note.textContent = text;
  note.hidden = false;
}

function setUpPhoto() {
  const photo = document.getElementById("photo");
  photo.addEventListener("error", () => mediaNote("the picture embedded in the page could not be shown"));
  showMedia(photo, data.photo);
}

const raycaster = new THREE.Raycaster();
const pointer = new THREE.Vector2();

function onPointerMove(event) {
  const box = renderer.domElement.getBoundingClientRect();
  pointer.set(((event.clientX - box.left) / box.width) * 2 - 1, 1 - ((event.clientY - box.top) / box.height) * 2);
  raycaster.setFromCamera(pointer, camera);
  const visible = [...figures.values()].filter((figure) => figure.group.visible);
  const hit = raycaster.intersectObjects(visible.flatMap((figure) => figure.joints), false)[0];
  tooltip.hidden = !hit;
  if (!hit) return;
  const { figure, joint } = hit.object.userData;
  const [x, y, z] = figure.cameraJoints()[joint];
  tooltip.textContent = `${nameOf.get(figure.id)} \u00b7 ${data.joint_names[joint]}\nx ${x.toFixed(1)}  y ${y.toFixed(1)}  z ${z.toFixed(1)} mm`;
  tooltip.style.left = `${event.clientX - box.left + 14}px`;
  tooltip.style.top = `${event.clientY - box.top + 14}px`;
}

/* Where joint j of a shown person is on the page (client pixels), for scripts and tests. */
function jointOnPage(id, joint) {
  const figure = figures.get(id);
  if (!figure || !figure.group.visible) return null;
  const point = figure.joints[joint].getWorldPosition(new THREE.Vector3()).project(camera);
  const box = renderer.domElement.getBoundingClientRect();
  return [box.left + ((point.x + 1) / 2) * box.width, box.top + ((1 - point.y) / 2) * box.height];
}

/* Where the demo's camera (the origin) is on the page (client pixels), for scripts and tests. */
function cameraOnPage() {
  const point = new THREE.Vector3().project(camera);
  const box = renderer.domElement.getBoundingClientRect();
  return [box.left + ((point.x + 1) / 2) * box.width, box.top + ((1 - point.y) / 2) * box.height];
}

/* The names shown over the 3D view: their text and box on the page (client pixels), for scripts and tests. */
function labelsOnPage() {
  return labels
    .filter((label) => !label.element.hidden)
    .map((label) => {
      const box = label.element.getBoundingClientRect();
      return { text: label.element.textContent, left: box.left, top: box.top, width: box.width, height: box.height };
    });
}

/* The drawn floor grid in the camera frame: [unit normal (up), offset mm] with normal . X = offset on it. */
function floorPlane() {
  const up = UP.clone().applyQuaternion(grid.quaternion);
  const normal = [up.x, -up.y, -up.z];
  const point = toCamera(grid.position);
  return [normal, normal.reduce((sum, value, axis) => sum + value * point[axis], 0)];
}

function resize() {
  const width = Math.max(view.clientWidth, 1);
  const height = Math.max(view.clientHeight, 1);
  renderer.setSize(width, height, false);
  camera.aspect = width / height;
  camera.updateProjectionMatrix();
  if (!userMoved) frameEverything();
  needsRender = true;
}

function tick() {
  window.requestAnimationFrame(tick);
  if (playing) followClock();
  if (!needsRender) return;
  renderer.render(scene, camera);
  placeLabels();
  needsRender = false;
  if (needsState) {
    publishState();
    needsState = false;
  }
}

fillLegend();
setUpAngleChart();
addFloorAndCamera();
if (data.is_video) setUpTimeline();
if (data.photo) setUpPhoto();
controls.addEventListener("start", () => {
  userMoved = true;
});
controls.addEventListener("change", () => {
  needsRender = true;
});
renderer.domElement.addEventListener("pointermove", onPointerMove);
renderer.domElement.addEventListener("pointerleave", () => {
  tooltip.hidden = true;
});
window.addEventListener("hashchange", () => {
  const k = frameFromHash();
  if (k !== null) goTo(k);
});
new ResizeObserver(resize).observe(view);
resize();
goTo(frameFromHash() ?? 0);
window.hg3dViewer = { goTo, jointOnPage, cameraOnPage, floorPlane, labelsOnPage };
window.requestAnimationFrame(tick);
