# veil_anon_dicom: DICOM de-identification with DCMTK, PS3.15 Annex E Basic Application Level Confidentiality
# Profile and its options.
veil_library(anon_dicom
  SRCS dicom_profile.cc dicom_deid.cc
  DEPS veil_crypto veil_base DCMTK::dcmdata absl::status absl::statusor absl::strings absl::flat_hash_map
       absl::str_format nlohmann_json::nlohmann_json)
veil_test(veil_anon_dicom_test
  SRCS dicom_profile_test.cc dicom_deid_test.cc
  DEPS veil_anon_dicom veil_base_testing veil_crypto_testing)
