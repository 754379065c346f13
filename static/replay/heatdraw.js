/**
 * How the heatmaps page draws a map on its canvas (heatmaps.js places the canvas over
 * the replayed page and says where): clicks as a heatmap, elements by their clicks, and
 * scroll reach in bands. Coordinates are the page's CSS pixels.
 */
(function () {
  'use strict';

  /** Each point a soft spot; where they pile up, hotter colours. */
  function heat(context, points, overlay, radius) {
    const spot = document.createElement('canvas');
    spot.width = spot.height = radius * 2;
    const spotContext = spot.getContext('2d');
    const gradient = spotContext.createRadialGradient(radius, radius, 0, radius, radius, radius);
    gradient.addColorStop(0, 'rgba(0,0,0,1)');
    gradient.addColorStop(1, 'rgba(0,0,0,0)');
    spotContext.fillStyle = gradient;
    spotContext.fillRect(0, 0, radius * 2, radius * 2);
    context.globalAlpha = 0.06;
    for (const point of points) context.drawImage(spot, point.x - radius, point.y - radius);
    context.globalAlpha = 1;
    const image = context.getImageData(0, 0, overlay.width, overlay.height);
    const pixels = image.data;
    let most = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > most) most = pixels[i];
    if (!most) return;
    const colours = palette();
    for (let i = 0; i < pixels.length; i += 4) {
      const alpha = pixels[i + 3];
      if (!alpha) continue;
      // (The square root: a few clicks still show warm beside a pile of them.)
      const level = Math.min(255, Math.round(Math.sqrt(alpha / most) * 255)) * 4;
      pixels[i] = colours[level];
      pixels[i + 1] = colours[level + 1];
      pixels[i + 2] = colours[level + 2];
      pixels[i + 3] = Math.min(220, 60 + level / 4);
    }
    context.putImageData(image, 0, 0);
  }

  function palette() {
    const strip = document.createElement('canvas');
    strip.width = 256;
    strip.height = 1;
    const context = strip.getContext('2d');
    const gradient = context.createLinearGradient(0, 0, 256, 0);
    gradient.addColorStop(0, '#3b82f6');
    gradient.addColorStop(0.35, '#22d3ee');
    gradient.addColorStop(0.55, '#a3e635');
    gradient.addColorStop(0.75, '#facc15');
    gradient.addColorStop(1, '#ef4444');
    context.fillStyle = gradient;
    context.fillRect(0, 0, 256, 1);
    return context.getImageData(0, 0, 256, 1).data;
  }

  /** Each element's box, warmer the more it was clicked, with its count and share. */
  function elements(context, placed, total) {
    const most = Math.max(1, ...placed.map((p) => p.item.count));
    context.font = '600 13px system-ui, sans-serif';
    for (const { item, box: b } of placed) {
      const warmth = item.count / most;
      context.fillStyle = 'rgba(249, 115, 22, ' + (0.12 + 0.45 * warmth) + ')';
      context.fillRect(b.left, b.top, b.width, b.height);
      context.strokeStyle = 'rgba(194, 65, 12, 0.9)';
      context.lineWidth = 2;
      context.strokeRect(b.left, b.top, b.width, b.height);
      const label = item.count.toLocaleString() + ' · ' + Math.round((item.count / total) * 1000) / 10 + '%';
      const width = context.measureText(label).width + 10;
      context.fillStyle = '#7c2d12';
      context.fillRect(b.left, Math.max(0, b.top - 20), width, 20);
      context.fillStyle = '#fff';
      context.fillText(label, b.left + 5, Math.max(0, b.top - 20) + 14);
    }
  }

  /** Bands shaded by the share of page views that reached them; lines at a quarter,
   *  half and three quarters of the page, and at the average fold. */
  function scroll(context, data, width, height) {
    const drawn = { bands: [], lines: [] };
    for (const band of data.bands) {
      const top = (band.from / 100) * height;
      const bottom = (band.to / 100) * height;
      const hue = Math.round(240 * (1 - band.reached));
      context.fillStyle = 'hsla(' + hue + ', 85%, 55%, 0.38)';
      context.fillRect(0, top, width, bottom - top);
      drawn.bands.push({ from: band.from, to: band.to, reached: band.reached, top: top, bottom: bottom });
    }
    const lines = ['25', '50', '75'].map((at) => ({
      y: (Number(at) / 100) * height,
      label: at + '% of the page · reached by ' + Math.round(data.reach[at] * 100) + '% of views',
      dashed: false,
    }));
    if (data.fold !== null) {
      lines.push({ y: data.fold * height, label: 'Average fold', dashed: true, right: true });
    }
    context.font = '600 14px system-ui, sans-serif';
    for (const line of lines) {
      context.setLineDash(line.dashed ? [8, 6] : []);
      context.strokeStyle = line.dashed ? '#111827' : '#1e3a8a';
      context.lineWidth = 2;
      context.beginPath();
      context.moveTo(0, line.y);
      context.lineTo(width, line.y);
      context.stroke();
      const label = context.measureText(line.label).width + 14;
      const left = line.right ? width - label - 8 : 8;
      context.fillStyle = line.dashed ? '#111827' : '#1e3a8a';
      context.fillRect(left, line.y - 24, label, 22);
      context.fillStyle = '#fff';
      context.fillText(line.label, left + 7, line.y - 8);
      drawn.lines.push({ y: line.y, label: line.label });
    }
    context.setLineDash([]);
    return drawn;
  }

  window.ReplayInternals = window.ReplayInternals || {};
  window.ReplayInternals.HeatDraw = { heat: heat, elements: elements, scroll: scroll };
})();
