#include "veil/pii/checksums.h"

#include <string>

#include "gtest/gtest.h"

namespace veil::pii::internal {
namespace {

TEST(LuhnTest, CheckDigits) {
  EXPECT_EQ(LuhnCheckDigit("7992739871"), 3);  // the textbook example, 79927398713
  EXPECT_EQ(LuhnCheckDigit("411111111111111"), 1);
  EXPECT_EQ(LuhnCheckDigit(""), 0);
  EXPECT_EQ(IbanCheckDigits("GB", "WEST12345698765432"), 82);  // the ISO 13616 / SWIFT registry example
  EXPECT_EQ(IbanCheckDigits("DE", "370400440532013000"), 89);
  EXPECT_EQ(NhsCheckDigit("943476591"), 9);
  EXPECT_EQ(NhsCheckDigit("000000001"), 9);  // 11 - 2 % 11
}

TEST(LuhnTest, KnownAnswers) {
  // Test card numbers published by the schemes / payment processors.
  EXPECT_TRUE(LuhnValid("4111111111111111"));  // Visa 16
  EXPECT_TRUE(LuhnValid("4222222222222"));     // Visa 13
  EXPECT_TRUE(LuhnValid("5555555555554444"));  // Mastercard
  EXPECT_TRUE(LuhnValid("378282246310005"));   // Amex 15
  EXPECT_TRUE(LuhnValid("6011111111111117"));  // Discover
  EXPECT_TRUE(LuhnValid("30569309025904"));    // Diners 14
  EXPECT_TRUE(LuhnValid("79927398713"));       // the classic Luhn example
  EXPECT_FALSE(LuhnValid("4111111111111112"));
  EXPECT_FALSE(LuhnValid("79927398710"));
  EXPECT_FALSE(LuhnValid(""));
  EXPECT_FALSE(LuhnValid("4111 1111 1111 1111"));  // digits only
  EXPECT_TRUE(LuhnValid("0000000000000000"));      // Luhn itself accepts zeros ...
}

TEST(LuhnTest, CardNumberRules) {
  bool known = false;
  EXPECT_FALSE(CardNumberValid("0000000000000000", &known));  // ... a card number does not
  EXPECT_FALSE(CardNumberValid("4111111111111112", &known));  // Luhn fails
  EXPECT_TRUE(CardNumberValid("4222222222222", &known));      // 13 digits
  EXPECT_TRUE(known);
  EXPECT_TRUE(CardNumberValid("4111111111111111", &known));
  EXPECT_TRUE(known);
  EXPECT_TRUE(CardNumberValid("378282246310005", &known));
  EXPECT_TRUE(known);
  EXPECT_TRUE(CardNumberValid("6011000990139424", &known));
  EXPECT_TRUE(known);
  // 19 digits: Visa and Discover issue them. Build Luhn-valid numbers by choosing the check digit.
  for (const std::string prefix : {"411111111111111111", "601111111111111111"}) {
    int ok = 0;
    for (char c = '0'; c <= '9'; ++c) {
      if (CardNumberValid(prefix + c, &known)) {
        ++ok;
        EXPECT_TRUE(known) << prefix + c;
      }
    }
    EXPECT_EQ(ok, 1) << prefix;  // exactly one check digit works
  }
  EXPECT_FALSE(CardNumberValid("41111111111111111111", &known));  // 20 digits
  EXPECT_FALSE(CardNumberValid("42424242424", &known));           // 11 digits
  // Luhn-valid with no issuer: valid but not known (scored lower).
  EXPECT_TRUE(CardNumberValid("9999999999999995", &known));
  EXPECT_FALSE(known);
}

TEST(IbanTest, RegistryExamples) {
  // Examples from the SWIFT IBAN registry (ISO 13616), several countries and lengths.
  for (const char* iban :
       {"GB82WEST12345698765432", "GB82 WEST 1234 5698 7654 32", "DE89370400440532013000",
        "DE89 3704 0044 0532 0130 00", "FR1420041010050500013M02606", "NL91ABNA0417164300",
        "BE68539007547034", "CH9300762011623852957", "NO9386011117947", "AT611904300234573201",
        "ES9121000418450200051332", "IT60X0542811101000000123456", "FI2112345600000785", "DK5000400440116243",
        "SE4550000000058398257466", "PL61109010140000071219812874", "MT84MALT011000012345MTLCAST001S"}) {
    EXPECT_TRUE(IbanValid(iban)) << iban;
  }
  EXPECT_TRUE(IbanValid("gb82west12345698765432"));  // case does not change mod-97
  EXPECT_EQ(IbanLength("GB"), 22);
  EXPECT_EQ(IbanLength("NO"), 15);
  EXPECT_EQ(IbanLength("US"), 0);
}

TEST(IbanTest, Rejects) {
  EXPECT_FALSE(IbanValid("GB83WEST12345698765432"));   // wrong check digits
  EXPECT_FALSE(IbanValid("GB82WEST1234569876543"));    // one short for GB (22)
  EXPECT_FALSE(IbanValid("GB82WEST123456987654321"));  // one long
  EXPECT_FALSE(IbanValid("US64SVBKUS6S3300958879"));   // no IBAN in the US
  EXPECT_FALSE(IbanValid("GB82WEST1234569876543!"));
  EXPECT_FALSE(IbanValid("GBXXWEST12345698765432"));  // check digits must be digits
  EXPECT_FALSE(IbanValid(""));
  EXPECT_FALSE(IbanValid("DE89370400440523013000"));  // two digits swapped: mod 97 catches it
}

TEST(NhsTest, CheckDigit) {
  EXPECT_TRUE(NhsNumberValid("9434765919"));   // the NHS Data Dictionary's example
  EXPECT_FALSE(NhsNumberValid("9434765918"));  // wrong check digit
  EXPECT_FALSE(NhsNumberValid("943476591"));   // 9 digits
  // Check value 10 is invalid whatever the last digit: 100000001's weighted sum is 1*10 + 1*2 = 12, and
  // 11 - 12 % 11 = 10.
  for (char c = '0'; c <= '9'; ++c) {
    EXPECT_FALSE(NhsNumberValid(std::string("100000001") + c)) << c;
  }
  // Check value 11 means check digit 0: 010000001 has sum 1*9 + 1*2 = 11.
  EXPECT_TRUE(NhsNumberValid("0100000010"));
  EXPECT_FALSE(NhsNumberValid("0100000011"));
}

TEST(UsIdentifierTest, SsnStructure) {
  EXPECT_TRUE(UsSsnValid(123, 45, 6789));
  EXPECT_FALSE(UsSsnValid(0, 45, 6789));
  EXPECT_FALSE(UsSsnValid(666, 45, 6789));
  EXPECT_FALSE(UsSsnValid(900, 45, 6789));
  EXPECT_FALSE(UsSsnValid(999, 45, 6789));
  EXPECT_FALSE(UsSsnValid(123, 0, 6789));
  EXPECT_FALSE(UsSsnValid(123, 45, 0));
  EXPECT_TRUE(UsSsnValid(899, 1, 1));
}

TEST(UsIdentifierTest, ItinGroups) {
  EXPECT_TRUE(UsItinValid(912, 70, 1234));
  EXPECT_TRUE(UsItinValid(999, 88, 1234));
  EXPECT_TRUE(UsItinValid(900, 92, 1234));
  EXPECT_TRUE(UsItinValid(900, 94, 1234));
  EXPECT_FALSE(UsItinValid(900, 93, 1234));
  EXPECT_FALSE(UsItinValid(900, 89, 1234));
  EXPECT_FALSE(UsItinValid(900, 69, 1234));
  EXPECT_FALSE(UsItinValid(812, 70, 1234));
}

TEST(IpTest, V4) {
  EXPECT_TRUE(ParseIpv4("192.168.0.1").has_value());
  EXPECT_TRUE(ParseIpv4("0.0.0.0").has_value());
  EXPECT_TRUE(ParseIpv4("255.255.255.255").has_value());
  EXPECT_FALSE(ParseIpv4("256.1.1.1").has_value());
  EXPECT_FALSE(ParseIpv4("1.2.3.256").has_value());
  EXPECT_FALSE(ParseIpv4("01.2.3.4").has_value());  // leading zero (octal in some parsers)
  EXPECT_FALSE(ParseIpv4("1.2.3").has_value());
  EXPECT_FALSE(ParseIpv4("1.2.3.4.5").has_value());
  EXPECT_EQ((*ParseIpv4("10.20.30.40"))[2], 30);
}

TEST(IpTest, V6) {
  for (const char* ok :
       {"2001:db8::1", "::1", "fe80::", "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        "6e40:4041:c617:e898:c11:40d2:c669:2eb4", "::ffff:192.0.2.128", "2001:db8:0:0:1::1"}) {
    EXPECT_TRUE(Ipv6Valid(ok)) << ok;
  }
  for (const char* bad :
       {"12:34:56", "2001:db8:::1", "1:2:3:4:5:6:7:8:9", "2001:db8::g", "00:1A:2B:3C:4D:5E", ":"}) {
    EXPECT_FALSE(Ipv6Valid(bad)) << bad;
  }
}

TEST(DateTest, Calendar) {
  EXPECT_TRUE(DateValid(2024, 2, 29));
  EXPECT_FALSE(DateValid(2023, 2, 29));
  EXPECT_FALSE(DateValid(1900, 2, 29));
  EXPECT_TRUE(DateValid(2000, 2, 29));
  EXPECT_FALSE(DateValid(2023, 4, 31));
  EXPECT_FALSE(DateValid(2023, 13, 1));
  EXPECT_FALSE(DateValid(2023, 0, 1));
}

TEST(TldTest, List) {
  EXPECT_TRUE(IsKnownTld("com"));
  EXPECT_TRUE(IsKnownTld("COM"));
  EXPECT_TRUE(IsKnownTld("se"));
  EXPECT_TRUE(IsKnownTld("museum"));
  EXPECT_FALSE(IsKnownTld("pdf"));
  EXPECT_FALSE(IsKnownTld("txt"));
  EXPECT_FALSE(IsKnownTld(""));
  EXPECT_TRUE(IsFileLikeTld("py"));
  EXPECT_FALSE(IsFileLikeTld("com"));
}

}  // namespace
}  // namespace veil::pii::internal
