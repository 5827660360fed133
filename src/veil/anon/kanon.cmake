# veil_anon_kanon: generalization hierarchies (ARX CSV, intervals, dates), privacy models (k-anonymity,
# distinct/entropy l-diversity, suppression limit), optimal full-domain lattice search, Mondrian, utility
# metrics and re-identification risk (prosecutor, journalist, marketer).
veil_library(anon_kanon
  SRCS hierarchy.cc kanon.cc utility.cc risk.cc mondrian.cc
  DEPS veil_table veil_base absl::status absl::statusor absl::strings absl::flat_hash_map absl::str_format)
veil_test(veil_anon_kanon_test
  SRCS hierarchy_test.cc kanon_test.cc kanon_arx_test.cc utility_test.cc risk_test.cc mondrian_test.cc
  DEPS veil_anon_kanon veil_base_testing)
