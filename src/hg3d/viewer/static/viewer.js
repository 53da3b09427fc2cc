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

const view = document.getElementById("view");
const tooltip = document.getElementById("tooltip");
const emptyNote = document.getElementById("empty-note");
const slider = document.getElementById("slider");
const playButton = document.getElementById("play");
const frameLabel = document.getElementById("frame-label");
const video = data.video ? document.getElementById("video") : null;

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

function textSprite(text, colour) {
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d");
  const font = "bold 40px sans-serif";
  context.font = font;
  canvas.width = Math.ceil(context.measureText(text).width) + 20;
  canvas.height = 56;
  context.font = font;
  context.fillStyle = "rgba(0, 0, 0, 0.55)";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.fillStyle = colour;
  context.textBaseline = "middle";
  context.fillText(text, 10, 30);
  const texture = new THREE.CanvasTexture(canvas);
  texture.colorSpace = THREE.SRGBColorSpace;
  const sprite = new THREE.Sprite(new THREE.SpriteMaterial({ map: texture, depthTest: false }));
  sprite.scale.set((0.2 * canvas.width) / canvas.height, 0.2, 1);
  sprite.renderOrder = 1;
  return sprite;
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
    this.label = textSprite(`id ${id}`, `#${colour.getHexString()}`);
    this.group.add(this.label);
    scene.add(this.group);
  }

  show(person) {
    this.person = person;
    this.group.visible = true;
    this.group.position.copy(toScene(displayOffset(person)));
    person.joints.forEach((point, joint) => this.joints[joint].position.copy(toScene(point)));
    data.edges.forEach(([a, b], i) => placeBone(this.bones[i], this.joints[a].position, this.joints[b].position));
    this.label.position.copy(this.joints[HEAD].position).add(new THREE.Vector3(0, 0.3, 0));
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

/* The floor under the lowest joint, and a first view from above and to the right that takes in
   the camera and everyone. */
function addFloorAndCamera() {
  const joints = drawnJoints();
  const markers = data.cameras || [{ name: "camera", intrinsics: data.intrinsics, R: null, t: [0, 0, 0] }];
  cameraNames = markers.map((m) => m.name);
  const centres = markers.map((m) => toScene(m.t));
  const extent = new THREE.Box3().setFromPoints([...centres, ...joints]);
  const floor = joints.length ? Math.min(...joints.map((p) => p.y)) : -1.5;
  const middle = extent.getCenter(new THREE.Vector3());
  const size = Math.ceil(Math.max(extent.max.x - extent.min.x, extent.max.z - extent.min.z) + 2);
  const grid = new THREE.GridHelper(size, size * 2, 0x6b7782, 0x3a424b);
  grid.position.set(middle.x, floor, middle.z);
  scene.add(grid);
  for (const m of markers) scene.add(cameraMarker(m));
  const radius = Math.max(1, extent.getSize(new THREE.Vector3()).length() / 2);
  const distance = (0.6 * radius) / Math.sin(THREE.MathUtils.degToRad(camera.fov / 2));
  camera.position.copy(middle).add(new THREE.Vector3(0.6, 0.45, 0.65).normalize().multiplyScalar(distance));
  controls.target.copy(middle);
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
  const name = textSprite(marker.name, "#ffffff");
  name.position.copy(place(top)).add(new THREE.Vector3(0, 0.12, 0));
  lines.add(name);
  return lines;
}

function fillLegend() {
  const legend = document.getElementById("legend");
  for (const id of data.tracks) {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = `#${trackColour(id).getHexString()}`;
    item.append(swatch, `id ${id}`);
    legend.append(item);
  }
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
  needsRender = true;
  needsState = true;
}

/* document.body.dataset.hg3dState: what the last render drew, for scripts and tests. */
function publishState() {
  const people = data.frames[current].people;
  const joints = {};
  for (const person of people) joints[String(person.id)] = figures.get(person.id).cameraJoints();
  const tracks = people.map((person) => person.id);
  const state = { ready: true, frame: current, frames: frameCount, tracks, joints, cameras: cameraNames };
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
  document.getElementById("video-panel").hidden = false;
  video.addEventListener("error", () => {
    const note = document.getElementById("video-note");
    const name = data.video.startsWith("data:") ? "embedded in the page" : decodeURIComponent(data.video);
    note.textContent = `the video (${name}) could not be played`;
    note.hidden = false;
  });
  video.src = data.video;
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
  tooltip.textContent = `id ${figure.id} \u00b7 ${data.joint_names[joint]}\nx ${x.toFixed(1)}  y ${y.toFixed(1)}  z ${z.toFixed(1)} mm`;
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

function resize() {
  const width = Math.max(view.clientWidth, 1);
  const height = Math.max(view.clientHeight, 1);
  renderer.setSize(width, height, false);
  camera.aspect = width / height;
  camera.updateProjectionMatrix();
  needsRender = true;
}

function tick() {
  window.requestAnimationFrame(tick);
  if (playing) followClock();
  if (!needsRender) return;
  renderer.render(scene, camera);
  needsRender = false;
  if (needsState) {
    publishState();
    needsState = false;
  }
}

fillLegend();
addFloorAndCamera();
if (data.is_video) setUpTimeline();
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
window.hg3dViewer = { goTo, jointOnPage };
window.requestAnimationFrame(tick);
