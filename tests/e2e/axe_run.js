async () => {
  // axe-core's serious and critical violations on this document (issue 17's bar)
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => {
      const where = v.nodes.slice(0, 3).map((n) => n.target.join(" "));
      return `${v.impact} ${v.id}: ${where.join(", ")}`;
    });
}
