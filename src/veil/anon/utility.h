// Utility (information loss) metrics of an anonymized table, as defined by ARX
// (github.com/arx-deidentifier/arx, org.deidentifier.arx.metric.v2), for full-domain generalization (a
// lattice node) and for multidimensional results such as Mondrian's (each record's QI value replaced by a set
// or range of original values).
//
// The result is described generically (GeneralizedTable): for every QI, a list of "cells", each the set of
// hierarchy leaves (original values, EncodedQi leaf ids) it covers, and for every record the cell it got,
// plus a per-record suppression flag. Equivalence classes are the groups of non-suppressed records with the
// same cell in every QI. With n = number of records, D_q = number of leaves of QI q's hierarchy (ARX's domain
// size, all hierarchy rows), a record r with original leaf v_rq and cell c_rq in QI q:
//
//   Non-uniform entropy (ARX MetricMDNUEntropyPrecomputed, as chosen by
//   Metric.createPrecomputedEntropyMetric(0.1, true) whenever #distinct/#rows <= 0.1 for every QI; gs-factor
//   0.5, i.e. generalization factor 1; aggregate SUM):
//     NUE = sum_q sum_r -log2( f_q(v_rq) / f_q(c_rq) ),
//   f_q(v) = records with leaf v, f_q(c) = records whose leaf lies in c (both over the whole input). As in
//   ARX, suppression does not enter: a suppressed record counts with its cell (ARX's precomputed variant
//   depends on the transformation only). Per QI: NUE_q; total = sum.
//
//   Loss (ARX MetricMDNMLoss, Iyengar 2002 "Transforming data to satisfy privacy constraints"; gs-factor 0.5,
//   aggregate geometric mean, ARX's default for Metric.createLossMetric()):
//     S_q = sum over non-suppressed r of |c_rq| / D_q  +  (number of suppressed records)
//     L_q = max(0, (S_q - n/D_q) / (n - n/D_q))              (0 = nothing generalized, 1 = all '*')
//     Loss = prod_q (1 + L_q)^(1/m) - 1                     (m = number of QIs)
//   (a QI whose D_q == 1 has L_q = 0.)
//
//   Discernibility (ARX MetricSDNMDiscernability, Bayardo & Agrawal 2005):
//     DM = sum over classes E of |E|^2 + (suppressed records) * n.
//
//   Average equivalence class size (ARX MetricSDAECS, LeFevre et al. 2006):
//     AECS = n / (number of classes + (1 if any record is suppressed else 0)).
//
// Thread safety: pure functions over their arguments.
#ifndef VEIL_ANON_UTILITY_H_
#define VEIL_ANON_UTILITY_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "veil/anon/hierarchy.h"

namespace veil::anon {

// A generalized version of an EncodedTable (see the file comment).
struct GeneralizedTable {
  // cells[q][c] = the leaf ids (of table.qis[q]) covered by cell c, in any order, no duplicates, non-empty.
  std::vector<std::vector<std::vector<int32_t>>> cells;
  // record_cell[q][r] = the cell of record r in QI q (0 <= . < cells[q].size()). The cell must cover the
  // record's own leaf (checked).
  std::vector<std::vector<int32_t>> record_cell;
  // suppressed[r] != 0 if record r is suppressed; empty = no record is suppressed.
  std::vector<uint8_t> suppressed;
};

struct UtilityMetrics {
  double non_uniform_entropy = 0;   // sum of nue_per_qi
  std::vector<double> nue_per_qi;   // NUE_q
  double loss = 0;                  // geometric-mean aggregate of loss_per_qi, in [0, 1]
  std::vector<double> loss_per_qi;  // L_q in [0, 1]
  double discernibility = 0;        // DM
  double average_class_size = 0;    // AECS
  int64_t num_classes = 0;          // equivalence classes of non-suppressed records
  int64_t suppressed = 0;           // suppressed records
};

// Scores `generalized` against the original `table`.
// Errors: InvalidArgument if the shapes do not match the table (number of QIs, records), a cell is empty,
// names a leaf out of range or twice, a record's cell index is out of range, or a cell does not cover the
// record's own leaf (naming the QI and the 1-based record).
absl::StatusOr<UtilityMetrics> ScoreGeneralized(const EncodedTable& table,
                                                const GeneralizedTable& generalized);

// The GeneralizedTable of full-domain generalization at `levels` (one per QI): cell c of QI q at level l is
// hierarchy node c (EncodedQi::parent[l]); `suppressed` as in GeneralizedTable (may be empty).
// Errors: InvalidArgument if levels has the wrong size or a level is out of range, or `suppressed` has a
// size other than 0 or num_rows.
absl::StatusOr<GeneralizedTable> FullDomainCells(const EncodedTable& table, absl::Span<const int> levels,
                                                 absl::Span<const uint8_t> suppressed = {});

// NUE_q of full-domain generalization of QI q at `level` (node-only: independent of suppression, as ARX).
double NonUniformEntropyAtLevel(const EncodedQi& qi, int level);

// The ARX Loss aggregate of per-QI values: prod_q (1 + L_q)^(1/m) - 1.
double AggregateLoss(absl::Span<const double> loss_per_qi);

}  // namespace veil::anon

#endif  // VEIL_ANON_UTILITY_H_
