import { checkTrace } from './check.ts';

checkTrace('vcgkz');
