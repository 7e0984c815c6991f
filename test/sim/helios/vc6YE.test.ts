import { checkTrace } from './check.ts';

checkTrace('vc6YE');
