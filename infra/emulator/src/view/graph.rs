//! An execution as a graph, as Studio draws one: a box per step (its name, type and
//! status, the status also in the box's outline), edges from DependsOn and data
//! references, a Condition's branches labelled with the outcome they need, and a
//! ForEach step's children under it. Laid out by layout-rs (layered, top to bottom) and
//! drawn here as SVG whose boxes link to the steps' panels.

use std::collections::BTreeMap;
use std::fmt::Write;

use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::Point;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;

use super::html::escape;
use crate::pipeline::definition::{Definition, StepKind};
use crate::pipeline::StepRecord;

/// One box: a step of the definition, or a ForEach child that ran.
struct Node {
    name: String,
    kind: String,
    status: String,
}

/// The graph of an execution as SVG; `link` gives the URL of a step's panel.
pub fn svg(definition: &Definition, steps: &[StepRecord], link: &dyn Fn(&str) -> String) -> String {
    let status: BTreeMap<&str, &str> = steps
        .iter()
        .map(|s| (s.name.as_str(), s.status.as_str()))
        .collect();
    let mut nodes: Vec<Node> = Vec::new();
    let mut edges: Vec<(usize, usize, String, bool)> = Vec::new();
    let mut at: BTreeMap<String, usize> = BTreeMap::new();
    for step in &definition.steps {
        at.insert(step.name.clone(), nodes.len());
        nodes.push(Node {
            name: step.name.clone(),
            kind: step.kind.type_name().to_owned(),
            status: status
                .get(step.name.as_str())
                .unwrap_or(&"NotStarted")
                .to_string(),
        });
    }
    for step in &definition.steps {
        let to = at[&step.name];
        for prerequisite in step.prerequisites() {
            let Some(&from) = at.get(&prerequisite) else {
                continue;
            };
            let label = match (&step.gate, &definition.steps[from].kind) {
                (Some((condition, branch)), StepKind::Condition { .. })
                    if *condition == prerequisite =>
                {
                    if *branch {
                        "if true"
                    } else {
                        "if false"
                    }
                }
                _ => "",
            };
            edges.push((from, to, label.to_owned(), false));
        }
        // A ForEach step's children that started, under it.
        if let StepKind::ForEach(_) = step.kind {
            for child in steps.iter().filter(|s| {
                s.iteration
                    .as_ref()
                    .is_some_and(|i| i["ParentStepName"] == step.name.as_str())
            }) {
                let index = nodes.len();
                nodes.push(Node {
                    name: child.name.clone(),
                    kind: child.step_type.clone(),
                    status: child.status.clone(),
                });
                edges.push((to, index, String::new(), true));
            }
        }
    }
    let mut graph = VisualGraph::new(Orientation::TopToBottom);
    let handles: Vec<_> = nodes
        .iter()
        .map(|node| {
            let label = format!("{}\n{} · {}", node.name, node.kind, node.status);
            let look = StyleAttr::new(Color::fast("black"), 1, Some(Color::fast("white")), 6, 13);
            let width = (label.lines().map(str::len).max().unwrap_or(8) as f64 * 8.0).max(120.0);
            graph.add_node(Element::create_with_properties(
                ShapeKind::new_box(&label),
                look,
                Orientation::TopToBottom,
                Point::new(width, 44.0),
                format!("{}\t{}", node.name, node.status),
            ))
        })
        .collect();
    for (from, to, label, dashed) in edges {
        let style = if dashed {
            LineStyleKind::Dashed
        } else {
            LineStyleKind::Normal
        };
        let look = StyleAttr::new(Color::fast("gray"), 1, None, 0, 11);
        let arrow = Arrow::new(
            LineEndKind::None,
            LineEndKind::Arrow,
            style,
            &label,
            &look,
            &None,
            &None,
        );
        graph.add_edge(arrow, handles[from], handles[to]);
    }
    let mut writer = SvgWriter::new(link);
    if !nodes.is_empty() {
        graph.do_it(false, false, false, &mut writer);
    }
    writer.finish()
}

/// A RenderBackend that writes SVG with a CSS class per status and a link per box.
struct SvgWriter<'a> {
    body: String,
    max: Point,
    link: &'a dyn Fn(&str) -> String,
    arrows: usize,
}

impl<'a> SvgWriter<'a> {
    fn new(link: &'a dyn Fn(&str) -> String) -> Self {
        Self {
            body: String::new(),
            max: Point::new(0.0, 0.0),
            link,
            arrows: 0,
        }
    }

    fn grow(&mut self, point: Point) {
        self.max.x = self.max.x.max(point.x);
        self.max.y = self.max.y.max(point.y);
    }

    fn finish(self) -> String {
        format!(
            "<svg class=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\
             <defs><marker id=\"head\" markerWidth=\"10\" markerHeight=\"7\" refX=\"10\" refY=\"3.5\" orient=\"auto\">\
             <polygon points=\"0 0, 10 3.5, 0 7\" fill=\"#888\"/></marker></defs>{}</svg>",
            self.body,
            w = (self.max.x + 20.0).ceil(),
            h = (self.max.y + 20.0).ceil()
        )
    }
}

impl RenderBackend for SvgWriter<'_> {
    fn draw_rect(
        &mut self,
        xy: Point,
        size: Point,
        _: &StyleAttr,
        properties: Option<String>,
        _: Option<ClipHandle>,
    ) {
        self.grow(Point::new(xy.x + size.x, xy.y + size.y));
        let Some((name, status)) = properties.as_deref().and_then(|p| p.split_once('\t')) else {
            return;
        };
        let _ = write!(
            self.body,
            "<a href=\"{}\" data-step=\"{}\"><rect class=\"node {}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"6\"><title>{}</title></rect></a>",
            escape(&(self.link)(name)),
            escape(name),
            escape(&status.to_lowercase()),
            xy.x,
            xy.y,
            size.x,
            size.y,
            escape(name)
        );
    }

    fn draw_line(&mut self, start: Point, stop: Point, _: &StyleAttr, _: Option<String>) {
        self.grow(start);
        self.grow(stop);
        let _ = write!(
            self.body,
            "<line class=\"edge\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>",
            start.x, start.y, stop.x, stop.y
        );
    }

    fn draw_circle(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}

    fn draw_text(&mut self, xy: Point, text: &str, _: &StyleAttr) {
        let lines: Vec<&str> = text.lines().collect();
        let top = xy.y - (lines.len() as f64 - 1.0) * 8.0;
        for (i, line) in lines.iter().enumerate() {
            let _ = write!(
                self.body,
                "<text class=\"{}\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" dominant-baseline=\"middle\">{}</text>",
                if i == 0 { "name" } else { "kind" },
                xy.x,
                top + i as f64 * 16.0,
                escape(line)
            );
        }
    }

    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        dashed: bool,
        _: (bool, bool),
        _: &StyleAttr,
        _: Option<String>,
        text: &str,
    ) {
        for (a, b) in path {
            self.grow(*a);
            self.grow(*b);
        }
        if path.len() < 2 {
            return;
        }
        let mut d = format!(
            "M {} {} C {} {}, {} {}, {} {} ",
            path[0].0.x,
            path[0].0.y,
            path[0].1.x,
            path[0].1.y,
            path[1].0.x,
            path[1].0.y,
            path[1].1.x,
            path[1].1.y
        );
        for point in path.iter().skip(2) {
            let _ = write!(
                d,
                "S {} {}, {} {} ",
                point.0.x, point.0.y, point.1.x, point.1.y
            );
        }
        let id = self.arrows;
        self.arrows += 1;
        let _ = write!(
            self.body,
            "<path id=\"edge{id}\" class=\"edge{}\" d=\"{d}\" marker-end=\"url(#head)\"/>",
            if dashed { " dashed" } else { "" }
        );
        if !text.is_empty() {
            let _ = write!(
                self.body,
                "<text class=\"label\"><textPath href=\"#edge{id}\" startOffset=\"50%\" text-anchor=\"middle\">{}</textPath></text>",
                escape(text)
            );
        }
    }

    fn create_clip(&mut self, _: Point, _: Point, _: usize) -> ClipHandle {
        0
    }
}
