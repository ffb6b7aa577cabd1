() => {
  // What sticks out of the viewport to the right (cut off, or the page scrolling sideways);
  // anything inside a scrolling (or deliberately clipping) container is fine.
  const width = document.documentElement.clientWidth;
  const out = [];
  const page = document.documentElement.scrollWidth;
  if (page > width + 1) out.push(`page ${page}px`);
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (!r.width || r.right <= width + 1) continue;
    let contained = false;
    for (let p = el.parentElement; p && !contained; p = p.parentElement) {
      const x = getComputedStyle(p).overflowX;
      contained = x === "auto" || x === "scroll" || x === "hidden";
    }
    if (!contained) out.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className} ${Math.round(r.right)}px`);
  }
  return out.slice(0, 5);
}
