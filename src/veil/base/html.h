// Text for HTML documents (the reports Veil writes: synthetic-data quality, records of processing, DPIAs).
#ifndef VEIL_BASE_HTML_H_
#define VEIL_BASE_HTML_H_

#include <string>
#include <string_view>

namespace veil::base {

// `s` with &, <, >, " and ' replaced by character references: safe as element text and as a quoted
// attribute value. Other bytes (UTF-8 included) are kept as they are.
std::string HtmlEscape(std::string_view s);

}  // namespace veil::base

#endif  // VEIL_BASE_HTML_H_
