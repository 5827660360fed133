// Check digits and structural rules of the identifiers the pattern recognizers validate. Pure functions,
// thread-safe, linear in their input; exposed for the recognizers and their known-answer tests.
#ifndef VEIL_PII_CHECKSUMS_H_
#define VEIL_PII_CHECKSUMS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace veil::pii::internal {

// The Luhn (mod 10, ISO/IEC 7812-1 Annex B) check over a string of ASCII digits: true if the doubled-every-
// second-digit-from-the-right sum is a multiple of 10. False for an empty string or any non-digit.
bool LuhnValid(std::string_view digits);
// The Luhn check digit to append to `payload` (ASCII digits; doubling starts at its last digit).
int LuhnCheckDigit(std::string_view payload);

// Payment card number (digits only, 12 to 19 of them): Luhn-valid and not a run of one repeated digit.
// `known_issuer` is set when the prefix and length belong to a card scheme (Visa 4, Mastercard 51-55 and
// 2221-2720, American Express 34/37, Discover 6011/644-649/65, JCB 3528-3589 and 2131/1800, Diners Club
// 300-305/36/38/39, UnionPay 62, Maestro 50/56-69) per ISO/IEC 7812 issuer identification ranges as
// published by the schemes.
bool CardNumberValid(std::string_view digits, bool* known_issuer);

// The registered IBAN length of a country (ISO 13616, SWIFT IBAN registry), or 0 if the country code (two
// uppercase letters) has no IBAN.
int IbanLength(std::string_view country);

// ISO 13616-1 IBAN: country code with its registered length, two check digits, an alphanumeric BBAN, and
// mod-97 of the rearranged number (ISO 7064 MOD 97-10) equal to 1. Spaces are ignored (the paper format
// groups by 4); letters may be either case. False on anything else.
bool IbanValid(std::string_view iban);
// The two ISO 7064 MOD 97-10 check digits (2..98) of an IBAN with this country code and BBAN (uppercase
// letters and digits): 98 - (BBAN + country + "00" mod 97).
int IbanCheckDigits(std::string_view country, std::string_view bban);

// NHS number (NHS Data Dictionary, "NHS Number"): 10 digits, the last a modulus-11 check digit over the
// first nine with weights 10..2; a check value of 10 makes the number invalid, 11 means check digit 0.
bool NhsNumberValid(std::string_view digits10);
// The modulus-11 check digit of the first nine digits of an NHS number, 0-9, or 10 when none is valid.
int NhsCheckDigit(std::string_view nine);

// US Social Security number structure (SSA, since the 2011 randomisation): area not 000, 666 or 900-999,
// group not 00, serial not 0000.
bool UsSsnValid(int area, int group, int serial);
// US ITIN (IRS): area 900-999, group 70-88, 90-92 or 94-99.
bool UsItinValid(int area, int group, int serial);

// Dotted-quad IPv4 ("192.168.0.1"): four decimal octets 0-255 without leading zeros. Returns the address.
std::optional<std::array<uint8_t, 4>> ParseIpv4(std::string_view s);
// IPv6 text form (RFC 4291 section 2.2, incl. "::" compression and an embedded dotted quad). True if valid.
bool Ipv6Valid(std::string_view s);

// A calendar date: month 1-12, day within the month (Gregorian leap years), year 1-9999.
bool DateValid(int year, int month, int day);

// True if `tld` (ASCII, any case, without the dot) is a top-level domain in the IANA root zone list shipped
// in tlds.cc.
bool IsKnownTld(std::string_view tld);
// True for the ccTLDs that are also common file name extensions (.py, .sh, .md, .cc, ...), where a bare
// "name.ext" is more likely a file than a domain.
bool IsFileLikeTld(std::string_view tld);

}  // namespace veil::pii::internal

#endif  // VEIL_PII_CHECKSUMS_H_
