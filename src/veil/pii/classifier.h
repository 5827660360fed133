// Placeholder: replaced by the work on issue 5.
#ifndef VEIL_PII_CLASSIFIER_H_
#define VEIL_PII_CLASSIFIER_H_
#endif
