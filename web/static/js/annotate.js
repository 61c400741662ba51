// Annotations on a still: arrows, boxes, circles and text kept as a separate layer in
// coordinates relative to the picture (0..1), so the stored file never changes. Drawing
// them is shared by the console, the replay and (the same geometry, in Python) the report.

import { api, element, setPressed } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const COLOR = '#ff3b30';
const HEAD = 0.035; // arrowhead length, share of the longer side (server/annotation_svg.py)
const STROKE = 0.006;
const FONT = 0.045;
const DEFAULT_SIZE = [1600, 900]; // when the picture's size is not recorded
const MIN_DRAG = 0.01; // a shorter drag is a slip of the hand, not a shape

function svgNode(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

const round = (value) => Math.round(value * 10) / 10;

/** The points of a filled arrowhead at (x2, y2), pointing away from (x1, y1). */
function arrowhead(x1, y1, x2, y2, length) {
  const angle = Math.atan2(y2 - y1, x2 - x1);
  const spread = Math.PI / 7;
  return [
    [x2, y2],
    [x2 - length * Math.cos(angle - spread), y2 - length * Math.sin(angle - spread)],
    [x2 - length * Math.cos(angle + spread), y2 - length * Math.sin(angle + spread)],
  ].map(([x, y]) => `${round(x)},${round(y)}`).join(' ');
}

function shapeNode(shape, w, h) {
  const color = shape.color || COLOR;
  const stroke = Math.max(w, h) * STROKE;
  const line = { stroke: color, 'stroke-width': stroke, fill: 'none' };
  let node;
  if (shape.type === 'arrow') {
    const [x1, y1, x2, y2] = [shape.x1 * w, shape.y1 * h, shape.x2 * w, shape.y2 * h];
    node = svgNode('g', {});
    node.append(
      svgNode('line', { x1, y1, x2, y2, ...line, 'stroke-linecap': 'round' }),
      svgNode('polygon', { points: arrowhead(x1, y1, x2, y2, Math.max(w, h) * HEAD), fill: color }),
    );
  } else if (shape.type === 'rect') {
    node = svgNode('rect', {
      x: Math.min(shape.x1, shape.x2) * w,
      y: Math.min(shape.y1, shape.y2) * h,
      width: Math.abs(shape.x2 - shape.x1) * w,
      height: Math.abs(shape.y2 - shape.y1) * h,
      ...line,
    });
  } else if (shape.type === 'circle') {
    node = svgNode('circle', { cx: shape.x * w, cy: shape.y * h, r: shape.r * Math.max(w, h), ...line });
  } else if (shape.type === 'text') {
    node = svgNode('text', {
      x: shape.x * w, y: shape.y * h, fill: color, 'font-size': h * FONT, 'font-weight': 700,
      stroke: '#000', 'stroke-width': stroke / 2, 'paint-order': 'stroke',
    });
    node.textContent = shape.text;
  } else {
    return null;
  }
  node.dataset.shape = shape.type;
  return node;
}

/** Replace what `svg` shows with `shapes`, over a picture of `width` × `height` pixels. */
export function drawShapes(svg, shapes, width, height) {
  const [w, h] = width && height ? [width, height] : DEFAULT_SIZE;
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.replaceChildren(...shapes.map((shape) => shapeNode(shape, w, h)).filter(Boolean));
}

/** A read-only layer over a picture: an <svg> sized by the stylesheet to its parent. */
export function overlay(shapes, width, height) {
  const svg = svgNode('svg', { class: 'annotation-layer', 'aria-hidden': 'true', preserveAspectRatio: 'xMidYMid meet' });
  drawShapes(svg, shapes, width, height);
  return svg;
}

const clamp = (value) => Math.min(1, Math.max(0, value));
const LABELS = { arrow: 'Arrow', rect: 'Box', text: 'Text' };

/**
 * The drawing tool of the console's enlarged capture: saved annotations load and show;
 * new shapes are drawn with the pointer and saved together with one POST.
 */
export class Annotator {
  /** `els`: svg, image, tools, buttons {arrow, rect, text, save, clear}, textField, textInput, status. */
  constructor(els, { mayAnnotate }) {
    this.els = els;
    this.mayAnnotate = mayAnnotate;
    this.item = null;
    this.saved = [];
    this.pending = [];
    this.tool = null;
    this.drag = null;
    this.loadToken = 0;
    if (!els.tools) return;
    for (const tool of ['arrow', 'rect', 'text']) {
      els.buttons[tool].addEventListener('click', () => this.choose(this.tool === tool ? null : tool));
    }
    els.buttons.save.addEventListener('click', () => this.save());
    els.buttons.clear.addEventListener('click', () => this.clear());
    els.textInput.addEventListener('keydown', (event) => {
      // Enter places the text in the middle: the tool works without a pointer too.
      if (event.key !== 'Enter') return;
      event.preventDefault();
      this.placeText(0.5, 0.5);
    });
    els.svg.addEventListener('pointerdown', (event) => this.down(event));
    els.svg.addEventListener('pointermove', (event) => this.move(event));
    els.svg.addEventListener('pointerup', (event) => this.up(event));
    els.svg.addEventListener('pointercancel', () => { this.drag = null; this.render(); });
  }

  /** Show `item`'s annotations; unsaved shapes of the previous picture are dropped. */
  async show(item) {
    if (this.item && this.item.id === item.id) return;
    this.item = item;
    this.saved = [];
    this.pending = [];
    this.drag = null;
    this.choose(null);
    this.say('');
    this.render();
    const token = ++this.loadToken;
    try {
      const body = await api(`/api/evidence/${encodeURIComponent(item.id)}/annotations`);
      if (token !== this.loadToken) return;
      this.saved = (body.items || []).flatMap((note) => note.shapes);
      this.render();
    } catch (error) {
      if (token === this.loadToken) this.say(`Annotations could not be loaded: ${error.message}`);
    }
  }

  /** The dialog closed: forget the picture so that opening it again reloads. */
  reset() {
    this.item = null;
    this.loadToken += 1;
    this.choose(null);
  }

  get editable() {
    return Boolean(this.els.tools) && this.mayAnnotate();
  }

  choose(tool) {
    if (!this.els.tools) return;
    this.tool = this.editable ? tool : null;
    for (const name of ['arrow', 'rect', 'text']) setPressed(this.els.buttons[name], this.tool === name);
    this.els.svg.classList.toggle('is-drawing', Boolean(this.tool));
    this.els.textField.hidden = this.tool !== 'text';
    if (this.tool === 'text') this.els.textInput.focus();
    if (this.tool) this.say(this.tool === 'text' ? 'Type the text, then click where it goes (Enter puts it in the middle).' : `${LABELS[this.tool]}: drag on the picture.`);
  }

  /** Where the pointer is, relative to the picture (0..1). */
  point(event) {
    const box = this.els.image.getBoundingClientRect();
    return [clamp((event.clientX - box.left) / box.width), clamp((event.clientY - box.top) / box.height)];
  }

  down(event) {
    if (!this.tool || !this.item || event.button !== 0) return;
    event.preventDefault();
    const [x, y] = this.point(event);
    if (this.tool === 'text') {
      this.placeText(x, y);
      return;
    }
    this.els.svg.setPointerCapture(event.pointerId);
    this.drag = { type: this.tool, x1: x, y1: y, x2: x, y2: y, color: COLOR };
  }

  move(event) {
    if (!this.drag) return;
    [this.drag.x2, this.drag.y2] = this.point(event);
    this.render();
  }

  up(event) {
    if (!this.drag) return;
    [this.drag.x2, this.drag.y2] = this.point(event);
    const { x1, y1, x2, y2 } = this.drag;
    if (Math.hypot(x2 - x1, y2 - y1) >= MIN_DRAG) this.add(this.drag);
    this.drag = null;
    this.render();
  }

  placeText(x, y) {
    const text = this.els.textInput.value.trim();
    if (!text) {
      this.say('Type the text first.');
      this.els.textInput.focus();
      return;
    }
    this.add({ type: 'text', x, y: Math.max(y, 0.05), text: text.slice(0, 500), color: COLOR });
    this.els.textInput.value = '';
    this.render();
  }

  add(shape) {
    this.pending.push(shape);
    this.say(`${this.pending.length} unsaved mark${this.pending.length === 1 ? '' : 's'}.`);
    this.renderButtons();
  }

  clear() {
    this.pending = [];
    this.drag = null;
    this.say('Unsaved marks cleared.');
    this.render();
  }

  async save() {
    if (!this.pending.length || !this.item) return;
    const item = this.item;
    const shapes = this.pending.slice();
    this.els.buttons.save.disabled = true;
    this.say('Saving…');
    try {
      await api(`/api/evidence/${encodeURIComponent(item.id)}/annotations`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ shapes }),
      });
      if (this.item !== item) return;
      this.saved.push(...shapes);
      this.pending = this.pending.slice(shapes.length);
      this.say(`Saved ${shapes.length} mark${shapes.length === 1 ? '' : 's'}. The picture itself is unchanged.`);
    } catch (error) {
      this.say(`Not saved: ${error.message}`);
    } finally {
      this.render();
    }
  }

  say(text) {
    if (this.els.status) this.els.status.textContent = text;
  }

  renderButtons() {
    if (!this.els.tools) return;
    this.els.tools.hidden = !this.editable;
    this.els.buttons.save.disabled = this.pending.length === 0;
    this.els.buttons.clear.disabled = this.pending.length === 0;
  }

  render() {
    const item = this.item;
    const shapes = [...this.saved, ...this.pending, ...(this.drag ? [this.drag] : [])];
    drawShapes(this.els.svg, shapes, item && item.width, item && item.height);
    this.els.svg.dataset.count = String(this.saved.length);
    this.renderButtons();
  }
}

/** A replay toggle that shows an item's annotations over its thumbnail. */
export function overlayToggle(picture, shapes, width, height) {
  const layer = overlay(shapes, width, height);
  layer.setAttribute('hidden', ''); // an SVG element has no `hidden` property
  picture.append(layer);
  const button = element('button', 'btn btn-small', 'Annotations');
  button.type = 'button';
  button.dataset.testid = 'annotations-toggle';
  button.title = 'Show the marks the auditor drew on this picture (the picture itself is unchanged)';
  setPressed(button, false);
  button.addEventListener('click', () => {
    const shown = layer.toggleAttribute('hidden') === false;
    setPressed(button, shown);
  });
  return button;
}
