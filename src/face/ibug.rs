//! The 68 iBUG 300-W points (dlib order) taken from the 468-point mesh. MediaPipe has no official subset, so the
//! correspondence is data, `resources/models/mesh68.json` (after PeizhiYan/Mediapipe_2_Dlib_Landmarks, MIT; see
//! the models README), compiled into the binary so it can never be missing or differ from the code's version:
//! each iBUG point is the mean of one or two mesh points. The table also names the face parts (jaw, brows, nose,
//! eyes, lips) and which of them are closed loops, for drawing and for the landmark sketch.

use once_cell::sync::Lazy;

use serde::Deserialize;

use crate::json::{self, OrderedMap};
use super::mesh::{FaceMesh, MESH_POINTS};
use super::FaceError;

/// Points in the iBUG 300-W layout.
pub const IBUG_POINTS: usize = 68;

/// The 68 iBUG points of a face, `[x, y]` in image pixels.
pub use crate::landmarks::Landmarks68;

/// `mesh68.json` as read: other members (`description`, `source`) are for people.
#[derive(Deserialize)]
struct TableFile {
    /// For each iBUG point, the mesh indices whose mean it is.
    mesh68: Vec<Vec<f64>>,
    /// Face part name → `[first, last]` iBUG index, in file order.
    parts: Option<OrderedMap<Vec<f64>>>,
    closed_parts: Option<Vec<String>>,
}

/// The 468 → 68 correspondence and the face parts.
#[derive(Clone, Debug, PartialEq)]
pub struct Mesh68Table {
    /// For each iBUG point, the mesh indices whose mean it is.
    pub mesh_indices: Vec<Vec<usize>>,
    /// Face parts as (name, first iBUG index, last iBUG index inclusive), in file order.
    pub parts: Vec<(String, usize, usize)>,
    /// Names of the parts that are closed loops (eyes, lips).
    pub closed_parts: Vec<String>,
}

const TABLE_JSON: &str = include_str!("../../resources/models/mesh68.json");

static TABLE: Lazy<Result<Mesh68Table, String>> = Lazy::new(|| Mesh68Table::parse(TABLE_JSON));

impl Mesh68Table {
    /// The table compiled into this build.
    pub fn builtin() -> Result<&'static Mesh68Table, FaceError> {
        TABLE.as_ref().map_err(|e| FaceError::Table(e.clone()))
    }

    /// Reads and validates a table in the `mesh68.json` format.
    pub fn parse(text: &str) -> Result<Mesh68Table, String> {
        let file: TableFile = json::from_str(text).map_err(|e| format!("mesh68.json is not valid: {e}"))?;
        let rows = file.mesh68;
        if rows.len() != IBUG_POINTS {
            return Err(format!("mesh68.json lists {} points instead of {IBUG_POINTS}", rows.len()));
        }
        let mut mesh_indices = Vec::with_capacity(IBUG_POINTS);
        for (i, items) in rows.iter().enumerate() {
            if items.is_empty() {
                return Err(format!("mesh68.json point {i} is not a non-empty list of mesh indices"));
            }
            let mut indices = Vec::with_capacity(items.len());
            for &v in items {
                if v.fract() != 0.0 || !(0.0..MESH_POINTS as f64).contains(&v) {
                    return Err(format!("mesh68.json point {i} has an index that is not 0…{}", MESH_POINTS - 1));
                }
                indices.push(v as usize);
            }
            mesh_indices.push(indices);
        }
        let mut parts = Vec::new();
        for (name, r) in file.parts.map(|p| p.0).unwrap_or_default() {
            let &[a, b] = r.as_slice() else {
                return Err(format!("mesh68.json part \"{name}\" is not [first, last]"));
            };
            if a > b || b >= IBUG_POINTS as f64 || a < 0.0 || a.fract() != 0.0 || b.fract() != 0.0 {
                return Err(format!("mesh68.json part \"{name}\" has an invalid range"));
            }
            parts.push((name, a as usize, b as usize));
        }
        Ok(Mesh68Table { mesh_indices, parts, closed_parts: file.closed_parts.unwrap_or_default() })
    }

    /// The 68 points of a mesh.
    pub fn apply(&self, mesh: &FaceMesh) -> Result<Landmarks68, FaceError> {
        if mesh.points468.len() != MESH_POINTS {
            return Err(FaceError::InvalidMesh(format!(
                "a face mesh must have {MESH_POINTS} points, this one has {}",
                mesh.points468.len()
            )));
        }
        let mut out = [[0.0f32; 2]; IBUG_POINTS];
        for (point, indices) in out.iter_mut().zip(&self.mesh_indices) {
            let n = indices.len() as f32;
            let (sx, sy) = indices
                .iter()
                .fold((0.0f32, 0.0f32), |(sx, sy), &i| (sx + mesh.points468[i][0], sy + mesh.points468[i][1]));
            *point = [sx / n, sy / n];
        }
        Ok(out)
    }
}

/// The 68 iBUG points of a mesh, with the built-in table.
pub fn landmarks68(mesh: &FaceMesh) -> Result<Landmarks68, FaceError> {
    Mesh68Table::builtin()?.apply(mesh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::mesh::FaceCrop;

    #[test]
    fn builtin_table_is_valid() {
        let t = Mesh68Table::builtin().unwrap();
        assert_eq!(t.mesh_indices.len(), 68);
        assert_eq!(t.mesh_indices[36], vec![33]);
        assert!(t.parts.iter().any(|(n, a, b)| n == "jaw" && *a == 0 && *b == 16));
        assert!(t.closed_parts.iter().any(|p| p == "inner_lip"));
    }

    #[test]
    fn points_are_means_and_bad_meshes_are_errors() {
        let crop = FaceCrop { center: [0.0, 0.0], size: 1.0, rotation: 0.0 };
        let points468 = (0..MESH_POINTS).map(|i| [i as f32, 2.0 * i as f32, 0.0]).collect();
        let mesh = FaceMesh { points468, presence: 1.0, irises: [[0.0; 2]; 2], iris_radii: [0.0; 2], crop };
        let l = landmarks68(&mesh).unwrap();
        assert_eq!(l[3], [(132.0 + 58.0) / 2.0, 132.0 + 58.0]);
        let short = FaceMesh { points468: vec![[0.0; 3]; 10], presence: 1.0, irises: [[0.0; 2]; 2], iris_radii: [0.0; 2], crop };
        assert!(landmarks68(&short).is_err());
        assert!(Mesh68Table::parse("{\"mesh68\": [[1]]}").is_err());
    }
}
