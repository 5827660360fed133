// Placeholder: replaced by the work on issue 5.
#ifndef VEIL_PII_EVALUATION_H_
#define VEIL_PII_EVALUATION_H_
#endif
